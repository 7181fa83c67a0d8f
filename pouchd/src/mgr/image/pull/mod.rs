//! `POST /images/create?fromImage=`: pulling from a registry.
//!
//! containerd 1.6 has no Transfer service, so this is done here: resolve the
//! manifest ([`resolve`]: a manifest list / index to the daemon's platform;
//! for docker.io through the configured mirrors first), fetch config and
//! layers into containerd's content store under a lease and unpack them
//! ([`fetch`]), and only then write the image records: the name pulled and
//! `repo@digest`, which `RepoDigests` shows. A failed or cancelled pull
//! leaves no record; its lease is deleted (even when the pull is dropped)
//! so GC takes what it fetched.

mod fetch;
mod resolve;

pub(super) use fetch::Downloads;
pub use resolve::{pull_reference, WantPlatform};
pub(super) use resolve::{AnyManifest, Desc, DOCKER_MANIFEST};

use super::reference::familiar;
use super::registry::{self, resolve_auth, split_repo, AuthConfig, Doing, Progress, RegResult};
use super::{dangling_name, ImageMgr};
use crate::ctrd::{Descriptor, ImageStore};
use std::sync::Arc;

/// A registry a pull talks to.
struct Endpoint {
    host: String,
    /// A `--registry-mirrors` entry (anonymous; on failure the next one).
    mirror: bool,
}

impl ImageMgr {
    /// Pulls `image` (with `tag`, which may be a digest) for `platform`,
    /// reporting on `progress`.
    pub async fn pull(
        &self,
        image: &str,
        tag: &str,
        platform: &WantPlatform,
        auth: &AuthConfig,
        progress: &Progress,
    ) -> RegResult<()> {
        let r = pull_reference(image, tag)?;
        let full = r.full();
        let name = familiar(&full);
        let (host, path) = split_repo(&r.repo);
        let registries = self.registries();
        let mut endpoints: Vec<Endpoint> = registries
            .mirrors_for(host)
            .into_iter()
            .map(|host| Endpoint { host, mirror: true })
            .collect();
        endpoints.push(Endpoint {
            host: host.to_string(),
            mirror: false,
        });

        let mut chosen = None;
        for ep in &endpoints {
            let doing = Doing {
                name: &name,
                host: &ep.host,
                insecure: registries.is_insecure(&ep.host),
                with_credentials: !ep.mirror && auth.has_credentials(),
                push: false,
            };
            let tried = async {
                let registries = registries.clone().probed(&ep.host).await?;
                let client = registries.client(&ep.host)?;
                let creds = if ep.mirror {
                    oci_client::secrets::RegistryAuth::Anonymous
                } else {
                    resolve_auth(&registries, host, path, false, auth).await?
                };
                let oref = registry::oci_reference_at(
                    &ep.host,
                    path,
                    r.tag.as_deref(),
                    r.digest.as_deref(),
                );
                let res = resolve::resolve(
                    &client,
                    &oref,
                    &creds,
                    &doing,
                    r.digest.as_deref(),
                    platform,
                )
                .await?;
                Ok::<_, registry::RegistryError>((registries, client, oref, creds, res))
            }
            .await;
            match tried {
                Ok(found) => {
                    chosen = Some((ep, found));
                    break;
                }
                Err(e) if ep.mirror => {
                    tracing::info!(mirror = %ep.host, error = %e, "mirror failed; trying the next endpoint");
                }
                Err(e) => return Err(e),
            }
        }
        let Some((ep, (registries, client, oref, creds, res))) = chosen else {
            return Err(crate::error::Error::system("no registry endpoint").into());
        };
        let doing = Doing {
            name: &name,
            host: &ep.host,
            insecure: registries.is_insecure(&ep.host),
            with_credentials: !ep.mirror && auth.has_credentials(),
            push: false,
        };

        let id_for_status = r.digest.clone().or(r.tag.clone()).unwrap_or_default();
        progress
            .status(&id_for_status, &format!("Pulling from {path}"))
            .await?;

        let previous = self.get(&full).ok();
        let up_to_date = previous
            .as_ref()
            .is_some_and(|p| p.manifest.digest == res.manifest.digest);
        let digest_ref = format!("{}@{}", r.repo, res.top_digest);
        if !up_to_date {
            let lease = Lease::create(self.store.clone()).await?;
            let fetched = self
                .fetch(
                    &client,
                    &oref,
                    &creds,
                    &doing,
                    lease.id(),
                    &res.doc,
                    &res.config,
                    &res.manifest,
                    &res.manifest_raw,
                    progress,
                )
                .await;
            let recorded = match fetched {
                Ok(()) => {
                    self.record_pull(&full, &digest_ref, &res.manifest, previous)
                        .await
                }
                Err(e) => Err(e),
            };
            lease.release().await;
            recorded?;
        } else if !self.has_ref(&digest_ref) {
            // Pulled before RepoDigests were kept, or loaded from a tar.
            if let Ok(img) = self.get(&full) {
                let _guard = self.write.lock().await;
                self.set_ref(&digest_ref, &img).await?;
            }
        }
        progress
            .status("", &format!("Digest: {}", res.top_digest))
            .await?;
        let status = if up_to_date {
            format!("Status: Image is up to date for {name}")
        } else {
            format!("Status: Downloaded newer image for {name}")
        };
        progress.status("", &status).await?;
        Ok(())
    }

    /// Points `full` and `digest_ref` at the pulled image; the image `full`
    /// pointed at before stays as a dangling image when that was its last
    /// name, as in Docker.
    async fn record_pull(
        &self,
        full: &str,
        digest_ref: &str,
        manifest: &Descriptor,
        previous: Option<Arc<super::Image>>,
    ) -> RegResult<()> {
        let image = self.read_image(manifest).await?;
        let _guard = self.write.lock().await;
        self.set_ref(full, &image).await?;
        if digest_ref != full {
            self.set_ref(digest_ref, &image).await?;
        }
        let dangling = dangling_name(&image.id);
        if self.has_ref(&dangling) {
            self.drop_ref(&dangling).await?;
        }
        if let Some(old) = previous.filter(|o| o.id != image.id) {
            let left = self.get(&old.id).map(|o| o.refs.len()).unwrap_or(0);
            if left == 0 {
                self.set_ref(&dangling_name(&old.id), &old).await?;
            }
        }
        let short = familiar(full);
        self.emit("pull", &short, &short);
        Ok(())
    }

    /// The registry settings (`--insecure-registries`, mirrors, CAs).
    pub(super) fn registries(&self) -> registry::Registries {
        self.registries
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Sets the registry settings (from the daemon's configuration).
    pub fn set_registries(&self, r: registry::Registries) {
        if let Ok(mut g) = self.registries.write() {
            *g = r;
        }
    }

    /// `POST /auth`: checks credentials against a registry; returns the
    /// identity token to keep (usually empty).
    pub async fn login(&self, auth: &AuthConfig) -> RegResult<String> {
        registry::login(&self.registries(), auth).await
    }
}

/// The containerd lease that holds a pull's content until its image record
/// does. It has no expiry (a slow pull must not lose what it fetched): it
/// is deleted at the end, by [`Lease::release`] or, when the pull is
/// dropped half-way, on drop; leases a crashed daemon left are deleted at
/// its next start.
struct Lease {
    store: Arc<dyn ImageStore>,
    id: Option<String>,
}

impl Lease {
    async fn create(store: Arc<dyn ImageStore>) -> RegResult<Lease> {
        let id = store.lease_create().await?;
        Ok(Lease {
            store,
            id: Some(id),
        })
    }

    fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    async fn release(mut self) {
        if let Some(id) = self.id.take() {
            if let Err(e) = self.store.lease_delete(&id).await {
                tracing::warn!(error = %e, "cannot delete lease {id}");
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let store = self.store.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.lease_delete(&id).await {
                    tracing::warn!(error = %e, "cannot delete lease {id}");
                }
            });
        }
    }
}
