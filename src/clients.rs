//! One SDK client per service and region, built from one loaded `SdkConfig` and reused for the
//! life of the process (a Lambda container serves many invocations).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub struct Clients {
    base: SdkConfig,
    /// Local endpoints (moto) do not resolve `bucket.host`: use path-style addressing there.
    path_style: bool,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
}

/// Region used when neither the environment nor a profile names one.
pub const FALLBACK_HOME_REGION: &str = "us-east-1";

impl Clients {
    /// Load the standard configuration chain: credentials, region, `AWS_ENDPOINT_URL`.
    pub async fn from_env(region_override: Option<String>) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = region_override {
            loader = loader.region(Region::new(region));
        }
        Clients::new(loader.load().await)
    }

    pub fn new(base: SdkConfig) -> Clients {
        let path_style = base.endpoint_url().is_some();
        Clients {
            base,
            path_style,
            s3: Mutex::new(HashMap::new()),
            kms: Mutex::new(HashMap::new()),
        }
    }

    pub fn home_region(&self) -> String {
        self.base
            .region()
            .map_or(FALLBACK_HOME_REGION.to_owned(), |r| r.to_string())
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let mut cache = self.s3.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_s3::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .force_path_style(self.path_style)
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .clone()
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let mut cache = self.kms.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_kms::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .build();
                aws_sdk_kms::Client::from_conf(config)
            })
            .clone()
    }

    /// Step Functions lives in the home region.
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.base)
    }
}
