//! One SDK client per service and region, built from one loaded `SdkConfig` and reused for the
//! life of the process (a Lambda container serves many invocations).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::error::{AwsResultExt, DrError};

pub struct Clients {
    base: SdkConfig,
    /// Local endpoints (moto) do not resolve `bucket.host`: use path-style addressing there.
    path_style: bool,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    kms: Mutex<HashMap<String, aws_sdk_kms::Client>>,
    s3control: Mutex<HashMap<String, aws_sdk_s3control::Client>>,
    calls: CallCounter,
}

/// Counts the AWS operations made through every client (once per operation, not per retry
/// attempt), so each step can report what it cost.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u32>>>);

impl CallCounter {
    /// The counts so far, and start again from zero.
    pub fn take(&self) -> BTreeMap<String, u32> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "s3-dr-call-counter"
    }

    // Not read_before_execution: a client interceptor runs that before the operation's
    // Metadata is in the bag. This hook runs once per operation, after it.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let operation = format!("{}:{}", service_prefix(metadata.service()), metadata.name());
            *self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(operation).or_default() += 1;
        }
        Ok(())
    }
}

/// "s3:GetBucketTagging", "kms:DescribeKey", as IAM names them.
fn service_prefix(service: &str) -> String {
    match service {
        "s3" | "S3" => "s3".to_owned(),
        "kms" | "KMS" => "kms".to_owned(),
        "sfn" | "SFN" => "states".to_owned(),
        "s3control" | "S3 Control" => "s3".to_owned(),
        other => other.to_ascii_lowercase(),
    }
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
            s3control: Mutex::new(HashMap::new()),
            calls: CallCounter::default(),
        }
    }

    /// AWS operations made since the last call, by `service:Operation`.
    pub fn take_call_counts(&self) -> BTreeMap<String, u32> {
        self.calls.take()
    }

    /// The counts `take_call_counts` would give now, without starting again from zero.
    pub fn call_counts(&self) -> BTreeMap<String, u32> {
        self.calls.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn home_region(&self) -> String {
        self.base.region().map_or(FALLBACK_HOME_REGION.to_owned(), |r| r.to_string())
    }

    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let mut cache = self.s3.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_s3::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .force_path_style(self.path_style)
                    .interceptor(self.calls.clone())
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
                    .interceptor(self.calls.clone())
                    .build();
                aws_sdk_kms::Client::from_conf(config)
            })
            .clone()
    }

    /// S3 Control (Batch Operations jobs run in the region of the bucket they act on).
    pub fn s3control(&self, region: &str) -> aws_sdk_s3control::Client {
        let mut cache = self.s3control.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_s3control::config::Builder::from(&self.base)
                    .region(Region::new(region.to_owned()))
                    .interceptor(self.calls.clone())
                    .build();
                aws_sdk_s3control::Client::from_conf(config)
            })
            .clone()
    }

    /// The account of the credentials in use (GetCallerIdentity), for the CLI: the Lambda reads
    /// it from its own ARN.
    pub async fn account_id(&self) -> Result<String, DrError> {
        let config = aws_sdk_sts::config::Builder::from(&self.base).interceptor(self.calls.clone()).build();
        let identity = aws_sdk_sts::Client::from_conf(config)
            .get_caller_identity()
            .send()
            .await
            .aws("(caller identity)", "GetCallerIdentity")?;
        identity
            .account()
            .map(str::to_owned)
            .ok_or_else(|| DrError::Internal("GetCallerIdentity returned no account".to_owned()))
    }

    /// Step Functions lives in the home region.
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        let config = aws_sdk_sfn::config::Builder::from(&self.base).interceptor(self.calls.clone()).build();
        aws_sdk_sfn::Client::from_conf(config)
    }
}
