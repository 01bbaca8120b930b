//! What CloneSettings reports, per setting and in all.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Copied,
    Unchanged,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingReport {
    pub setting: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

impl SettingReport {
    pub(super) fn new(setting: &str, status: Status, detail: Option<String>) -> SettingReport {
        SettingReport { setting: setting.to_owned(), status, detail, error_type: None }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub destination: String,
    pub settings: Vec<SettingReport>,
    /// The settings this run wrote.
    pub changes: Vec<String>,
    pub failed: usize,
    pub changed: bool,
}

impl Output {
    /// "policy (InvalidSourcePolicy: ...); cors (AccessDenied: ...)", or None if all went well.
    pub fn failures(&self) -> Option<String> {
        let failed: Vec<String> = self
            .settings
            .iter()
            .filter(|s| s.status == Status::Failed)
            .map(|s| {
                format!(
                    "{} ({}: {})",
                    s.setting,
                    s.error_type.as_deref().unwrap_or("error"),
                    s.detail.as_deref().unwrap_or("no detail")
                )
            })
            .collect();
        (!failed.is_empty()).then(|| failed.join("; "))
    }
}
