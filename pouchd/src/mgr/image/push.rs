//! `POST /images/{name}/push`: layers and config streamed from containerd's
//! content store to the registry, then the stored manifest bytes as they are
//! (so the digest the registry reports is the image's own).

use super::pull::{AnyManifest, Desc, DOCKER_MANIFEST};
use super::reference::{familiar, Reference};
use super::registry::{
    counting, map_error, oci_reference, resolve_auth, short_id, split_repo, AuthConfig, Doing,
    Progress, RegResult,
};
use super::ImageMgr;
use crate::error::Error;
use futures::StreamExt;
use oci_client::errors::OciDistributionError;

/// Layers uploaded at once.
const CONCURRENT: usize = 3;

impl ImageMgr {
    /// Pushes `name` (a repository, optionally with a tag) with `tag`; with
    /// neither, every tag of the repository.
    pub async fn push(
        &self,
        name: &str,
        tag: &str,
        auth: &AuthConfig,
        progress: &Progress,
    ) -> RegResult<()> {
        let parsed = Reference::parse_any(name)?;
        if parsed.digest.is_some() {
            return Err(Error::invalid("cannot push a digest reference").into());
        }
        let tags: Vec<String> = if !tag.is_empty() {
            vec![Reference::parse(&format!("{}:{tag}", parsed.repo))?.full()]
        } else if let Some(t) = &parsed.tag {
            vec![format!("{}:{t}", parsed.repo)]
        } else {
            let prefix = format!("{}:", parsed.repo);
            let mut all: Vec<String> = self
                .list()
                .iter()
                .flat_map(|i| i.refs.iter().cloned().collect::<Vec<_>>())
                .filter(|r| r.starts_with(&prefix) && !r.contains('@'))
                .collect();
            all.sort();
            all
        };
        if tags.is_empty() || tags.iter().any(|t| self.get(t).is_err()) {
            let shown = tags
                .iter()
                .find(|t| self.get(t).is_err())
                .map(|t| familiar(t))
                .unwrap_or_else(|| familiar(&parsed.repo));
            return Err(Error::not_found(format!(
                "An image does not exist locally with the tag: {shown}"
            ))
            .into());
        }
        progress
            .status(
                "",
                &format!("The push refers to repository [{}]", parsed.repo),
            )
            .await?;
        for full in &tags {
            self.push_one(&parsed.repo, full, auth, progress).await?;
        }
        Ok(())
    }

    async fn push_one(
        &self,
        repo: &str,
        full: &str,
        auth: &AuthConfig,
        progress: &Progress,
    ) -> RegResult<()> {
        let img = self.get(full)?;
        let tag = full.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
        let name = familiar(full);
        let (host, path) = split_repo(repo);
        let registries = self.registries().probed(host).await?;
        let client = registries.client(host)?;
        let doing = Doing {
            name: &name,
            host,
            insecure: registries.is_insecure(host),
            with_credentials: auth.has_credentials(),
            push: true,
        };
        let creds = resolve_auth(&registries, host, path, true, auth).await?;
        let oref = oci_reference(repo, Some(tag), None);
        client
            .store_auth_if_needed(oref.resolve_registry(), &creds)
            .await;

        let manifest_raw = self.store.read_blob(&img.manifest.digest).await?;
        let doc = AnyManifest::parse(&manifest_raw, &name)?;
        let config = doc
            .config
            .clone()
            .ok_or_else(|| Error::invalid(format!("{name}: manifest has no config")))?;
        let diff_ids = &img.config.rootfs.diff_ids;
        let ids: Vec<String> = doc
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| short_id(diff_ids.get(i).unwrap_or(&l.digest)))
            .collect();
        for id in &ids {
            progress.status(id, "Preparing").await?;
        }
        let jobs: Vec<_> = doc
            .layers
            .iter()
            .zip(&ids)
            .map(|(layer, id)| self.push_layer(&client, &oref, &doing, layer, id, progress))
            .collect();
        let mut uploads = futures::stream::iter(jobs).buffer_unordered(CONCURRENT);
        while let Some(r) = uploads.next().await {
            r?;
        }
        drop(uploads);

        let exists = client
            .blob_exists(&oref, &config.digest)
            .await
            .map_err(|e| map_error(e, &doing))?;
        if !exists {
            let bytes = self.store.read_blob(&config.digest).await?;
            client
                .push_blob(&oref, bytes, &config.digest)
                .await
                .map_err(|e| map_error(e, &doing))?;
        }

        let media_type = if !img.manifest.media_type.is_empty() {
            img.manifest.media_type.clone()
        } else if !doc.media_type.is_empty() {
            doc.media_type.clone()
        } else {
            DOCKER_MANIFEST.to_string()
        };
        let content_type = http::HeaderValue::from_str(&media_type)
            .map_err(|_| Error::invalid(format!("bad manifest media type {media_type:?}")))?;
        let size = manifest_raw.len();
        client
            .push_manifest_raw(&oref, manifest_raw, content_type)
            .await
            .map_err(|e| map_error(e, &doing))?;
        let digest = &img.manifest.digest;
        // As in Docker, a pushed image lists `repo@digest` in RepoDigests.
        {
            let _guard = self.write.lock().await;
            if let Some(now) = self.get(full).ok().filter(|i| i.id == img.id) {
                self.set_ref(&format!("{repo}@{digest}"), &now).await?;
            }
        }
        progress
            .status("", &format!("{tag}: digest: {digest} size: {size}"))
            .await?;
        progress
            .aux(serde_json::json!({ "Tag": tag, "Digest": digest, "Size": size }))
            .await?;
        self.emit("push", &name, &name);
        Ok(())
    }

    async fn push_layer(
        &self,
        client: &oci_client::Client,
        oref: &oci_client::Reference,
        doing: &Doing<'_>,
        layer: &Desc,
        id: &str,
        progress: &Progress,
    ) -> RegResult<()> {
        let exists = client
            .blob_exists(oref, &layer.digest)
            .await
            .map_err(|e| map_error(e, doing))?;
        if exists {
            progress.status(id, "Layer already exists").await?;
            return Ok(());
        }
        let size = u64::try_from(layer.size)
            .map_err(|_| Error::invalid(format!("layer {}: negative size", layer.digest)))?;
        let blob = self.store.read_blob_stream(&layer.digest).await?;
        let stream = counting(blob, progress.clone(), id.to_string(), "Pushing", size)
            .map(|r| r.map_err(OciDistributionError::IoError));
        client
            .push_blob_stream(oref, stream, &layer.digest, Some(size))
            .await
            .map_err(|e| map_error(e, doing))?;
        progress.status(id, "Pushed").await?;
        Ok(())
    }
}
