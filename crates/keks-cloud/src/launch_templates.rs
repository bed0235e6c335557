//! EC2 launch templates, reduced to what the fleet uses: a name, numbered versions, and
//! each version's instance type. Auto Scaling groups launch from them; EKS's
//! `sourceLaunchTemplateId/Version` labels name them. Kept in the store
//! (`/keks/cloud/<region>/launch-templates/<id>`).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use keks_store::{KeyRange, RangeRequest, Store, StoreError};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::instances::LaunchTemplateRef;
use crate::network::new_id;
use crate::{catalog, Tag};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchTemplateVersion {
    pub number: u64,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Wall time, Unix seconds.
    pub create_time: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchTemplate {
    /// `lt-` + 17 hex digits.
    pub id: String,
    pub name: String,
    pub default_version: u64,
    pub versions: Vec<LaunchTemplateVersion>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub create_time: f64,
}

impl LaunchTemplate {
    pub fn latest_version(&self) -> u64 {
        self.versions.last().map_or(1, |v| v.number)
    }

    /// The version a request names: `$Latest`, `$Default`, a number, or (none) the default.
    pub fn version(&self, spec: Option<&str>) -> Option<&LaunchTemplateVersion> {
        let number = match spec {
            None | Some("$Default") => self.default_version,
            Some("$Latest") => self.latest_version(),
            Some(n) => n.parse().ok()?,
        };
        self.versions.iter().find(|v| v.number == number)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchTemplateError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("a stored launch template is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
    #[error("Launch template name already in use.")]
    AlreadyExists(String),
    #[error("The specified launch template, with template {kind} {value}, does not exist.")]
    NotFound { kind: &'static str, value: String },
    #[error("The specified launch template version, {0}, does not exist.")]
    NoSuchVersion(String),
    #[error("The instance type '{0}' does not exist.")]
    UnknownInstanceType(String),
}

impl LaunchTemplateError {
    /// EC2's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists(_) => "InvalidLaunchTemplateName.AlreadyExistsException",
            Self::NotFound { kind: "ID", .. } => "InvalidLaunchTemplateId.NotFound",
            Self::NotFound { .. } => "InvalidLaunchTemplateName.NotFoundException",
            Self::NoSuchVersion(_) => "InvalidLaunchTemplateId.VersionNotFound",
            Self::UnknownInstanceType(_) => "InvalidParameterValue",
            Self::Store(_) | Self::Damaged(_) => "InternalError",
        }
    }
}

/// The region's launch templates; clones share them.
#[derive(Clone)]
pub struct LaunchTemplates {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    prefix: String,
    templates: RwLock<BTreeMap<String, LaunchTemplate>>,
    writes: tokio::sync::Mutex<()>,
}

impl LaunchTemplates {
    pub async fn load(store: Arc<dyn Store>, region: &str) -> Result<Self, LaunchTemplateError> {
        let prefix = format!("/keks/cloud/{region}/launch-templates/");
        let listed = store
            .range(RangeRequest::new(KeyRange::prefix(prefix.clone())))
            .await?;
        let mut templates = BTreeMap::new();
        for kv in listed.kvs {
            let t: LaunchTemplate = serde_json::from_slice(&kv.value)?;
            templates.insert(t.id.clone(), t);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                prefix,
                templates: RwLock::new(templates),
                writes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Every template, by id.
    pub fn list(&self) -> Vec<LaunchTemplate> {
        self.inner.templates.read().values().cloned().collect()
    }

    /// A template by id (`lt-…`) or by name.
    pub fn find(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<LaunchTemplate, LaunchTemplateError> {
        let templates = self.inner.templates.read();
        match (id, name) {
            (Some(id), _) => templates
                .get(id)
                .cloned()
                .ok_or(LaunchTemplateError::NotFound {
                    kind: "ID",
                    value: id.to_string(),
                }),
            (None, Some(name)) => templates.values().find(|t| t.name == name).cloned().ok_or(
                LaunchTemplateError::NotFound {
                    kind: "name",
                    value: name.to_string(),
                },
            ),
            (None, None) => Err(LaunchTemplateError::NotFound {
                kind: "name",
                value: String::new(),
            }),
        }
    }

    /// Resolves a reference to a template version: the reference instances carry (with the
    /// version's number) and the version's instance type.
    pub fn resolve(
        &self,
        id: Option<&str>,
        name: Option<&str>,
        version: Option<&str>,
    ) -> Result<(LaunchTemplate, LaunchTemplateRef, Option<String>), LaunchTemplateError> {
        let t = self.find(id, name)?;
        let v = t
            .version(version)
            .ok_or_else(|| {
                LaunchTemplateError::NoSuchVersion(version.unwrap_or("$Default").into())
            })?
            .clone();
        let reference = LaunchTemplateRef {
            id: t.id.clone(),
            version: v.number.to_string(),
        };
        Ok((t, reference, v.instance_type))
    }

    /// CreateLaunchTemplate: version 1, the default.
    pub async fn create(
        &self,
        name: &str,
        instance_type: Option<String>,
        description: Option<String>,
        tags: Vec<Tag>,
        now: f64,
    ) -> Result<LaunchTemplate, LaunchTemplateError> {
        check_type(instance_type.as_deref())?;
        let _writing = self.inner.writes.lock().await;
        if self.inner.templates.read().values().any(|t| t.name == name) {
            return Err(LaunchTemplateError::AlreadyExists(name.to_string()));
        }
        let template = LaunchTemplate {
            id: new_id("lt"),
            name: name.to_string(),
            default_version: 1,
            versions: vec![LaunchTemplateVersion {
                number: 1,
                instance_type,
                description,
                create_time: now,
            }],
            tags,
            create_time: now,
        };
        self.save(&template).await?;
        Ok(template)
    }

    /// CreateLaunchTemplateVersion: the next number; the instance type from the request or
    /// else from the source version.
    pub async fn create_version(
        &self,
        id: Option<&str>,
        name: Option<&str>,
        source_version: Option<&str>,
        instance_type: Option<String>,
        description: Option<String>,
        now: f64,
    ) -> Result<(LaunchTemplate, LaunchTemplateVersion), LaunchTemplateError> {
        check_type(instance_type.as_deref())?;
        let _writing = self.inner.writes.lock().await;
        let mut template = self.find(id, name)?;
        let source = match source_version {
            Some(v) => Some(
                template
                    .version(Some(v))
                    .ok_or_else(|| LaunchTemplateError::NoSuchVersion(v.to_string()))?
                    .clone(),
            ),
            None => None,
        };
        let version = LaunchTemplateVersion {
            number: template.latest_version() + 1,
            instance_type: instance_type.or(source.and_then(|s| s.instance_type)),
            description,
            create_time: now,
        };
        template.versions.push(version.clone());
        self.save(&template).await?;
        Ok((template, version))
    }

    /// DeleteLaunchTemplate.
    pub async fn delete(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<LaunchTemplate, LaunchTemplateError> {
        let _writing = self.inner.writes.lock().await;
        let template = self.find(id, name)?;
        self.inner
            .store
            .delete(Bytes::from(format!("{}{}", self.inner.prefix, template.id)))
            .await?;
        self.inner.templates.write().remove(&template.id);
        Ok(template)
    }

    async fn save(&self, t: &LaunchTemplate) -> Result<(), LaunchTemplateError> {
        self.inner
            .store
            .put(
                Bytes::from(format!("{}{}", self.inner.prefix, t.id)),
                Bytes::from(serde_json::to_vec(t)?),
            )
            .await?;
        self.inner.templates.write().insert(t.id.clone(), t.clone());
        Ok(())
    }
}

fn check_type(instance_type: Option<&str>) -> Result<(), LaunchTemplateError> {
    match instance_type {
        Some(t) if catalog::lookup(t).is_none() => {
            Err(LaunchTemplateError::UnknownInstanceType(t.to_string()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keks_store::MemoryStore;

    #[tokio::test]
    async fn versions_resolve_and_survive_a_reload() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let lts = LaunchTemplates::load(store.clone(), "us-east-1")
            .await
            .unwrap();
        let t = lts
            .create("nodes", Some("m5.large".into()), None, vec![], 1.0)
            .await
            .unwrap();
        assert!(t.id.starts_with("lt-") && t.id.len() == 20);
        assert!(matches!(
            lts.create("nodes", None, None, vec![], 1.0).await,
            Err(LaunchTemplateError::AlreadyExists(_))
        ));
        lts.create_version(Some(&t.id), None, Some("1"), None, None, 2.0)
            .await
            .unwrap();
        let (_, r, ty) = lts.resolve(None, Some("nodes"), Some("$Latest")).unwrap();
        assert_eq!((r.version.as_str(), ty.as_deref()), ("2", Some("m5.large")));
        let (_, r, _) = lts.resolve(Some(&t.id), None, None).unwrap();
        assert_eq!(r.version, "1");
        let reloaded = LaunchTemplates::load(store, "us-east-1").await.unwrap();
        assert_eq!(reloaded.list().len(), 1);
        assert_eq!(
            reloaded.find(Some(&t.id), None).unwrap().latest_version(),
            2
        );
        assert_eq!(
            reloaded.find(Some("lt-0"), None).unwrap_err().code(),
            "InvalidLaunchTemplateId.NotFound"
        );
    }
}
