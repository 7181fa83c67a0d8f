//! `POST /images/{name}/tag`.

use super::reference::Reference;
use super::{dangling_name, ImageMgr};
use crate::error::{Error, Result};

impl ImageMgr {
    /// Tags image `name` as `repo[:tag]` (tag defaults to `latest`).
    pub async fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        let target = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        let r = Reference::parse(&target)?;
        if r.digest.is_some() {
            return Err(Error::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let _guard = self.write.lock().await;
        let img = self.get(name)?;
        self.set_ref(&r.full(), &img).await?;
        self.emit("tag", &img.id, &super::reference::familiar(&r.full()));
        let dangling = dangling_name(&img.id);
        if self.has_ref(&dangling) {
            self.drop_ref(&dangling).await?;
        }
        Ok(())
    }
}
