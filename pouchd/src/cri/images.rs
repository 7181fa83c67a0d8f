//! The CRI image service over the image manager: full references
//! (`docker.io/library/busybox:latest`) as the CRI shows them.

use super::Cri;
use crate::error::{Error, Result};
use crate::mgr::image::registry::{AuthConfig, Progress};
use crate::mgr::image::{Image, WantPlatform};
use pouch_cri::v1;

fn cri_image(img: &Image) -> v1::Image {
    let mut tags = Vec::new();
    let mut digests = Vec::new();
    for r in &img.refs {
        if r.contains('@') {
            digests.push(r.clone());
        } else if !r.starts_with("pouch-dangling@") {
            tags.push(r.clone());
        }
    }
    let user = img
        .config
        .config
        .as_ref()
        .map(|c| c.user.clone())
        .unwrap_or_default();
    let user = user.split(':').next().unwrap_or_default().to_string();
    let (uid, username) = match user.parse::<i64>() {
        Ok(n) => (Some(v1::Int64Value { value: n }), String::new()),
        Err(_) => (None, user),
    };
    v1::Image {
        id: img.id.clone(),
        repo_tags: tags,
        repo_digests: digests,
        size: img.size.max(0) as u64,
        uid,
        username,
        spec: Some(v1::ImageSpec {
            image: img.id.clone(),
            ..Default::default()
        }),
        pinned: false,
    }
}

impl Cri {
    pub(super) fn list_images_of(&self, want: &str) -> Vec<v1::Image> {
        let only = if want.is_empty() {
            None
        } else {
            match self.images.get(want) {
                Ok(i) => Some(i.id.clone()),
                Err(_) => return Vec::new(),
            }
        };
        self.images
            .list()
            .iter()
            .filter(|i| only.as_ref().is_none_or(|id| *id == i.id))
            .map(|i| cri_image(i))
            .collect()
    }

    /// An image by reference or ID; none when unknown (not an error).
    pub(super) fn image_of(&self, name: &str) -> Option<v1::Image> {
        self.images.get(name).ok().map(|i| cri_image(&i))
    }

    pub(super) async fn pull(&self, req: v1::PullImageRequest) -> Result<String> {
        let name = req.image.map(|s| s.image).unwrap_or_default();
        if name.is_empty() {
            return Err(Error::invalid("image to pull is required"));
        }
        let auth = match req.auth {
            Some(a) => AuthConfig {
                username: a.username,
                password: a.password,
                auth: a.auth,
                serveraddress: a.server_address,
                identitytoken: a.identity_token,
                registrytoken: a.registry_token,
                ..Default::default()
            }
            .normalised(),
            None => AuthConfig::default(),
        };
        let platform = WantPlatform::parse("")?;
        self.images
            .pull(&name, "", &platform, &auth, &Progress::discard())
            .await
            .map_err(|e| match e {
                crate::mgr::image::registry::RegistryError::Other(e) => e,
                other => Error::system(other.to_string()),
            })?;
        Ok(self.images.get(&name)?.id.clone())
    }

    /// RemoveImage: refused while a container uses it; a missing image is
    /// no error.
    pub(super) async fn remove_image_of(&self, name: &str) -> Result<()> {
        let img = match self.images.get(name) {
            Ok(i) => i,
            Err(Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let users = self.containers.image_users(&img.id);
        // Every name of the image goes, as the CRI removes by image.
        match self.images.remove(&img.id, true, &users).await {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
