//! Test harness: one local stack (moto + the real Lambda binary, `local/stack.py`) per test
//! binary, started on a free port on first use. It stops when this process exits, because
//! it watches its standard input (`--exit-on-stdin-eof`), which only we hold.
#![allow(dead_code)] // each test binary uses a different part

pub mod bench;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, DeleteMarkerReplication,
    DeleteMarkerReplicationStatus, Destination, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter,
    ReplicationRuleStatus, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use futures::StreamExt;
use s3_dr::clients::Clients;
use serde_json::Value;

pub const ACCOUNT_ID: &str = "123456789012";
pub const HOME_REGION: &str = "us-east-1";
pub const SOURCE_REGION: &str = "us-west-2";
pub const DR_REGION: &str = "us-east-2";
pub const REPLICATION_ROLE: &str = "arn:aws:iam::123456789012:role/s3-dr-replication";

pub struct Stack {
    pub endpoint: String,
    /// Where S3 requests go: `endpoint` (moto), or LocalStack's S3 when the stack runs with
    /// `--s3-backend localstack` (S3DR_TEST_S3=localstack, `make test-strict`).
    pub s3_endpoint: String,
    pub env: HashMap<String, String>,
    pub state_machine_arn: String,
    // Held for the life of the process: closing stdin stops the stack.
    _process: Mutex<(Child, ChildStdin)>,
}

static STACK: OnceLock<Stack> = OnceLock::new();

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn python() -> PathBuf {
    let python =
        std::env::var_os("S3DR_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(python.exists(), "{} is missing: run `make test` (it installs the pinned moto in .venv)", python.display());
    python
}

/// The Lambda binary the stack runs. `make test` sets S3DR_LAMBDA_BIN to the binary built
/// on its own (`cargo build --bins`): the one that ships. The binary Cargo builds for a test
/// run has the dev-dependencies' features (aws-smithy-mocks turns on the SDK runtime's
/// test-util), and such a binary once hid a bug that the shipped one had.
pub fn lambda_binary() -> PathBuf {
    shipped_or("S3DR_LAMBDA_BIN", option_env!("CARGO_BIN_EXE_s3-dr-lambda"), "s3-dr-lambda")
}

/// The `s3-dr` CLI binary, chosen the same way.
pub fn cli_binary() -> PathBuf {
    shipped_or("S3DR_CLI_BIN", option_env!("CARGO_BIN_EXE_s3-dr"), "s3-dr")
}

fn shipped_or(variable: &str, cargo_test_build: Option<&str>, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    eprintln!("note: {variable} is not set; using Cargo's test build of {name} (`make test` uses the shipped build)");
    // Examples (the benchmarks) include this module too; `make bench` builds the binaries first.
    cargo_test_build.map(PathBuf::from).unwrap_or_else(|| repo_root().join("target/debug").join(name))
}

/// The stack of this test binary; `lambda_env` (S3DR_* settings) applies to the first call.
pub fn stack_with(lambda_env: &[(&str, &str)]) -> &'static Stack {
    STACK.get_or_init(|| start_stack(lambda_env, &[]))
}

pub fn stack() -> &'static Stack {
    stack_with(&[])
}

/// The stack of this test binary, started with `extra_args` for local/stack.py (such as
/// `--s3-fault-proxy`) on the first call.
pub fn stack_with_args(lambda_env: &[(&str, &str)], extra_args: &[&str]) -> &'static Stack {
    STACK.get_or_init(|| start_stack(lambda_env, extra_args))
}

/// Start a launcher; `extra_args` e.g. `--no-patches`. Returns once it printed "# ready".
pub fn start_stack(lambda_env: &[(&str, &str)], extra_args: &[&str]) -> Stack {
    let root = repo_root();
    let mut extra_args = extra_args.to_vec();
    if strict_s3() {
        extra_args.extend(["--s3-backend", "localstack"]);
    }
    let log_path = root.join("target").join(format!(
        "local-stack-{}.log",
        std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "tests".into())
    ));
    let log = std::fs::File::create(&log_path).expect("create the stack log");
    let mut command = Command::new(python());
    command
        .arg(root.join("local/stack.py"))
        .args(["--port", "0", "--exit-on-stdin-eof", "--lambda-bin"])
        .arg(lambda_binary())
        .args(&extra_args)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log);
    // The developer's own S3DR_* settings must not change what the tests see.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("S3DR_")) {
        command.env_remove(key);
    }
    for (key, value) in lambda_env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start local/stack.py");
    let stdin = child.stdin.take().expect("stack stdin");
    let stdout = child.stdout.take().expect("stack stdout");
    let mut env = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read the stack's output");
        if line.starts_with("# ready") {
            break;
        }
        if let Some((key, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            env.insert(key.to_owned(), value.to_owned());
        }
    }
    let endpoint = env
        .get("AWS_ENDPOINT_URL")
        .unwrap_or_else(|| panic!("the local stack did not start; see {}", log_path.display()))
        .clone();
    Stack {
        s3_endpoint: env.get("AWS_ENDPOINT_URL_S3").cloned().unwrap_or_else(|| endpoint.clone()),
        endpoint,
        state_machine_arn: env.get("S3DR_STATE_MACHINE_ARN").cloned().unwrap_or_default(),
        env,
        _process: Mutex::new((child, stdin)),
    }
}

/// S3DR_TEST_S3=localstack: S3 is LocalStack's (stricter than moto), Step Functions, KMS and
/// IAM stay moto's (`make test-strict`).
pub fn strict_s3() -> bool {
    std::env::var("S3DR_TEST_S3").is_ok_and(|v| v == "localstack")
}

/// What LocalStack's S3 does not do as AWS does, for the few tests that rest on it: they say
/// so and return, under `make test-strict` only.
pub fn skip_on_strict_s3(why: &str) -> bool {
    if strict_s3() {
        eprintln!("skipped on LocalStack's S3: {why}");
    }
    strict_s3()
}

/// Hands S3 clients built from an `SdkConfig` the stack's S3 endpoint, as the SDK's
/// `AWS_ENDPOINT_URL_S3` does (a service's own endpoint wins over `AWS_ENDPOINT_URL`).
#[derive(Debug)]
struct S3Endpoint(String);

impl aws_types::service_config::LoadServiceConfig for S3Endpoint {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        (key.service_id().eq_ignore_ascii_case("s3") && key.profile() == "endpoint_url").then(|| self.0.clone())
    }
}

impl Stack {
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        let config = sdk_config(&self.endpoint, region, Credentials::new("test", "test", None, None, "tests")).await;
        let mut builder = config.into_builder().service_config(S3Endpoint(self.s3_endpoint.clone()));
        // An endpoint set in code would win over every service's own; as if it came from the
        // environment (AWS_ENDPOINT_URL), the S3 one goes first.
        builder.insert_origin("endpoint_url", aws_types::origin::Origin::shared_environment_variable());
        builder.build()
    }

    pub async fn clients(&self) -> Clients {
        Clients::new(self.sdk_config(HOME_REGION).await)
    }

    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        self.clients().await.s3(region)
    }

    pub async fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk_config(HOME_REGION).await)
    }

    pub async fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.sdk_config(region).await)
    }

    /// An S3 client acting as another AWS account (moto maps assumed-role credentials to the
    /// role's account id).
    pub async fn s3_as_account(&self, account: &str, region: &str) -> aws_sdk_s3::Client {
        let sts = aws_sdk_sts::Client::new(&self.sdk_config(HOME_REGION).await);
        let assumed = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/other-team"))
            .role_session_name("s3-dr-tests")
            .send()
            .await
            .expect("assume a role in another account");
        let c = assumed.credentials().expect("assumed credentials");
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "other",
        );
        Clients::new(sdk_config(&self.endpoint, region, credentials).await).s3(region)
    }

    /// The ARN of the state machine made from `statemachine/<stem>.asl.json`
    /// ("protect", "detach", "sweep").
    pub fn workflow_arn(&self, workflow: &str) -> String {
        let key = format!("S3DR_{}_STATE_MACHINE_ARN", workflow.to_uppercase());
        self.env.get(&key).cloned().unwrap_or_else(|| panic!("the stack announced no {key}"))
    }

    /// Run any of the workflows to completion.
    pub async fn run_workflow(&self, workflow: &str, input: Value) -> Execution {
        run_execution(&self.sfn().await, &self.workflow_arn(workflow), input).await
    }

    /// Run the protect workflow (the real ASL file, executed by moto) to completion.
    pub async fn run_protect(&self, input: Value) -> Execution {
        run_execution(&self.sfn().await, &self.state_machine_arn, input).await
    }
}

async fn sdk_config(endpoint: &str, region: &str, credentials: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .load()
        .await
}

/// What an execution ended as, and what each step reported.
#[derive(Debug)]
pub struct Execution {
    pub status: ExecutionStatus,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Value,
    /// (state name, that step's own output), in order.
    pub steps: Vec<(String, Value)>,
    /// Start to stop, as Step Functions recorded them.
    pub duration: Duration,
    /// (start, stop) in seconds since the epoch, as Step Functions recorded them.
    pub span: (f64, f64),
    /// Its whole history, every page.
    pub history: History,
}

/// An execution's history events (printed as their count: an assertion's message shows the
/// steps' outputs, not hundreds of events).
pub struct History(pub Vec<aws_sdk_sfn::types::HistoryEvent>);

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} history events", self.0.len())
    }
}

impl History {
    /// State transitions, as Step Functions bills them: the StateEntered events.
    pub fn transitions(&self) -> usize {
        self.0.iter().filter(|e| e.r#type().as_str().ends_with("StateEntered")).count()
    }
}

impl Execution {
    /// The output of the step's last run (a loop, such as CheckBackfill, runs more than once).
    pub fn step(&self, name: &str) -> &Value {
        self.steps
            .iter()
            .rfind(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("step {name} did not run: {self:#?}"))
    }

    pub fn assert_succeeded(&self) -> &Self {
        assert_eq!(self.status, ExecutionStatus::Succeeded, "{self:#?}");
        self
    }

    pub fn assert_failed_with(&self, error: &str) -> &Self {
        assert_eq!(self.status, ExecutionStatus::Failed, "{self:#?}");
        assert_eq!(self.error.as_deref(), Some(error), "{self:#?}");
        self
    }
}

pub async fn run_execution(sfn: &aws_sdk_sfn::Client, state_machine_arn: &str, input: Value) -> Execution {
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(unique("test-exec"))
        .input(input.to_string())
        .send()
        .await
        .expect("start execution");
    wait_execution(sfn, started.execution_arn()).await
}

/// Wait for an execution (started by anyone) to end, and read what each step reported.
pub async fn wait_execution(sfn: &aws_sdk_sfn::Client, arn: &str) -> Execution {
    let deadline = Instant::now() + Duration::from_secs(120);
    // Poll quickly at first, then back off: many executions polled at once (the benchmark)
    // would otherwise load the emulator more than the workflows do.
    let mut interval = Duration::from_millis(50);
    let described = loop {
        let described = sfn.describe_execution().execution_arn(arn).send().await.expect("describe execution");
        if described.status() != &ExecutionStatus::Running {
            break described;
        }
        assert!(Instant::now() < deadline, "execution {arn} still running after 120 s");
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(1));
    };
    let mut events = Vec::new();
    let mut pages = sfn.get_execution_history().execution_arn(arn).max_results(1000).into_paginator().send();
    while let Some(page) = pages.next().await {
        events.extend(page.expect("history").events().iter().cloned());
    }
    let steps = events
        .iter()
        .filter(|e| e.r#type() == &HistoryEventType::TaskStateExited)
        .filter_map(|e| e.state_exited_event_details())
        .map(|d| {
            let output: Value = d.output().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
            (d.name().to_owned(), output[d.name()].clone())
        })
        // A caught failure also exits the state, without a result of its own.
        .filter(|(_, output)| !output.is_null())
        .collect();
    let seconds = |t: Option<&aws_smithy_types::DateTime>| t.map_or(0.0, |t| t.as_secs_f64());
    let duration =
        Duration::from_secs_f64((seconds(described.stop_date()) - seconds(Some(described.start_date()))).max(0.0));
    Execution {
        duration,
        span: (seconds(Some(described.start_date())), seconds(described.stop_date())),
        status: described.status().clone(),
        error: described.error().map(str::to_owned),
        cause: described.cause().map(str::to_owned),
        output: described.output().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null),
        steps,
        history: History(events),
    }
}

/// A bucket name no other test uses: `<prefix>-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub async fn create_bucket(s3: &aws_sdk_s3::Client, name: &str, region: &str) {
    try_create_bucket(s3, name, region).await.unwrap_or_else(|e| panic!("create {name}: {e:?}"));
}

/// CreateBucket in `region` (us-east-1 takes no LocationConstraint), its answer as it is.
pub async fn try_create_bucket(
    s3: &aws_sdk_s3::Client,
    name: &str,
    region: &str,
) -> Result<(), aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::create_bucket::CreateBucketError>> {
    let mut request = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    request.send().await.map(|_| ())
}

pub async fn tag_bucket(s3: &aws_sdk_s3::Client, name: &str, tags: &[(&str, &str)]) {
    let tag_set = tags.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap()).collect();
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(Tagging::builder().set_tag_set(Some(tag_set)).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// A source bucket in `region` with `tags` and a few objects.
pub async fn source_bucket(stack: &Stack, name: &str, region: &str, tags: &[(&str, &str)]) -> aws_sdk_s3::Client {
    let s3 = stack.s3(region).await;
    create_bucket(&s3, name, region).await;
    for key in ["a.txt", "b/c.txt"] {
        s3.put_object().bucket(name).key(key).body(key.as_bytes().to_vec().into()).send().await.unwrap();
    }
    if !tags.is_empty() {
        tag_bucket(&s3, name, tags).await;
    }
    s3
}

/// SSE-KMS default encryption with `key`.
pub async fn put_kms_default_encryption(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key)
                .build()
                .unwrap(),
        )
        .bucket_key_enabled(true)
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// "Enabled", "Suspended" or "Off".
pub async fn versioning(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    s3_dr::bucket::versioning(s3, bucket).await.unwrap()
}

pub fn asl_path() -> PathBuf {
    repo_root().join("statemachine/protect-bucket.asl.json")
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub const MIXED_OBJECTS: usize = 2000;
const MIB: usize = 1024 * 1024;

/// The backfill test set: key, size, and whether it gets metadata and tags. Sizes up to 20 kB,
/// a few odd key names, every tenth object decorated, and three objects of 6 to 11 MiB.
pub fn mixed_objects() -> Vec<(String, usize, bool)> {
    let mut objects: Vec<(String, usize, bool)> = (0..MIXED_OBJECTS - 3)
        .map(|i| {
            let key = match i % 100 {
                0 => format!("odd names/ü + ? # {i}.txt"),
                _ => format!("data/{:02}/object-{i:05}.bin", i % 37),
            };
            (key, (i * 7919) % 20_000, i % 10 == 0)
        })
        .collect();
    objects.extend(
        [(6, "big/six"), (7, "big/seven"), (11, "big/eleven")]
            .map(|(mib, key)| (key.to_owned(), mib * MIB + 123, true)),
    );
    objects
}

/// A new bucket in the source region holding `mixed_objects()`, put 16 at a time.
pub async fn seed_mixed_objects(stack: &Stack, bucket: &str) {
    let s3 = stack.s3(SOURCE_REGION).await;
    create_bucket(&s3, bucket, SOURCE_REGION).await;
    futures::stream::iter(mixed_objects())
        .map(|(key, size, decorated)| {
            let s3 = s3.clone();
            async move {
                let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
                let mut put = s3.put_object().bucket(bucket).key(&key).body(ByteStream::from(body));
                if decorated {
                    put = put
                        .content_type("application/x-test")
                        .cache_control("max-age=60")
                        .metadata("origin", "seed")
                        .metadata("index", key.len().to_string())
                        .tagging("class=decorated&owner=team%20a");
                }
                put.send().await.unwrap_or_else(|e| panic!("put {key}: {e:?}"));
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// A hand-written CloudTrail event (tests/fixtures/cloudtrail/<name>.json) about `bucket`.
pub fn cloudtrail_event(name: &str, bucket: &str) -> Value {
    let path = repo_root().join(format!("tests/fixtures/cloudtrail/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut event: Value = serde_json::from_str(&text.replace("BUCKET", bucket)).unwrap();
    event["detail"]["awsRegion"] = Value::from(SOURCE_REGION);
    event
}

pub async fn set_versioning(s3: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

/// A replication rule that is not s3-dr's, to check that s3-dr leaves it alone.
pub fn foreign_rule() -> ReplicationRule {
    ReplicationRule::builder()
        .id("analytics-copy")
        .priority(7)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().prefix("exports/").build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder().status(DeleteMarkerReplicationStatus::Disabled).build(),
        )
        .destination(Destination::builder().bucket("arn:aws:s3:::analytics-lake").build().unwrap())
        .build()
        .unwrap()
}

/// Add `rule` to the bucket's replication configuration (role: the s3-dr replication role).
/// S3 refuses a rule whose destination is missing or unversioned ("Destination bucket must
/// have versioning enabled"; LocalStack checks it, moto does not): the rule's destination is
/// made first, versioned.
pub async fn add_replication_rule(s3: &aws_sdk_s3::Client, bucket: &str, rule: &ReplicationRule) {
    ensure_rule_destination(s3, rule).await;
    let mut rules = s3_dr::bucket::replication(s3, bucket).await.unwrap().map(|c| c.rules).unwrap_or_default();
    rules.push(rule.clone());
    s3.put_bucket_replication()
        .bucket(bucket)
        .replication_configuration(
            ReplicationConfiguration::builder().role(REPLICATION_ROLE).set_rules(Some(rules)).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// The rule's destination bucket, made (in the client's region) and versioned if need be.
pub async fn ensure_rule_destination(s3: &aws_sdk_s3::Client, rule: &ReplicationRule) {
    let Some(target) = rule.destination().and_then(|d| s3_dr::event::bucket_of_arn(d.bucket())) else { return };
    if s3.head_bucket().bucket(target).send().await.is_err() {
        let region = s3.config().region().map_or(HOME_REGION.to_owned(), |r| r.to_string());
        if let Err(error) = try_create_bucket(s3, target, &region).await {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&error).unwrap_or_default().to_owned();
            assert!(code.starts_with("BucketAlready"), "create {target}: {error:?}");
        }
    }
    set_versioning(s3, target, BucketVersioningStatus::Enabled).await;
}

/// The configuration the stack's Lambda runs with (as far as the rule is concerned).
pub fn protect_config(storage_class: &str) -> s3_dr::config::Config {
    s3_dr::config::Config::from_lookup(|name| match name {
        "S3DR_REPLICATION_ROLE_ARN" => Some(REPLICATION_ROLE.to_owned()),
        "S3DR_STORAGE_CLASS" => Some(storage_class.to_owned()),
        _ => None,
    })
    .unwrap()
}

/// The key ARN behind the local stack's DR key alias (`alias/s3-dr` in the DR region).
pub async fn dr_key_arn(stack: &Stack) -> String {
    static ARN: OnceLock<String> = OnceLock::new();
    if let Some(arn) = ARN.get() {
        return arn.clone();
    }
    let described = stack.kms(DR_REGION).await.describe_key().key_id("alias/s3-dr").send().await.unwrap();
    let arn = described.key_metadata().unwrap().arn().unwrap().to_owned();
    ARN.get_or_init(|| arn).clone()
}

/// What the protect workflow leaves behind, made directly with 7 calls (for tests and benches
/// that need hundreds of protected buckets): versioned source with `tags`, versioned
/// destination marked as ours and backfilled, the s3-dr rule (with `storage_class` and the
/// stack's DR key).
pub async fn make_protected_bucket(stack: &Stack, source: &str, storage_class: &str, tags: &[(&str, &str)]) {
    let s3 = stack.s3(SOURCE_REGION).await;
    let dr = stack.s3(DR_REGION).await;
    let destination = format!("{source}-dr");
    create_bucket(&s3, source, SOURCE_REGION).await;
    create_bucket(&dr, &destination, DR_REGION).await;
    set_versioning(&s3, source, BucketVersioningStatus::Enabled).await;
    set_versioning(&dr, &destination, BucketVersioningStatus::Enabled).await;
    tag_bucket(&dr, &destination, &[("s3-dr:source", source), ("s3-dr:backfill", "copy 2026-11-26")]).await;
    let key = s3_dr::replication::ReplicaKey::Key(dr_key_arn(stack).await);
    let spec = protect_config(storage_class).rule_spec(&destination, key);
    let s3_dr::replication::Merge::Write { configuration, .. } =
        s3_dr::replication::merge(source, None, REPLICATION_ROLE, &spec).unwrap()
    else {
        panic!("a new rule is always a write")
    };
    s3.put_bucket_replication().bucket(source).replication_configuration(configuration).send().await.unwrap();
    tag_bucket(&s3, source, tags).await;
}

/// A run on a protected bucket: StartBackfill decided from the destination's marker with no
/// AWS call, no CheckBackfill ran, and no step wrote anything.
pub fn assert_no_backfill_and_no_write(run: &Execution) {
    run.assert_succeeded();
    let start = run.step("StartBackfill");
    assert_eq!(start["done"], true, "{start}");
    assert!(start["notNeeded"].is_string(), "{start}");
    assert_eq!(start["awsCalls"], serde_json::json!({}), "StartBackfill made calls: {start}");
    assert!(run.steps.iter().all(|(name, _)| name != "CheckBackfill"), "{:?}", run.steps);
    let writes: Vec<String> = run
        .steps
        .iter()
        .flat_map(|(_, output)| output["awsCalls"].as_object().into_iter().flatten().map(|(call, _)| call.clone()))
        .filter(|call| {
            !call.contains(":Get") && !call.contains(":List") && !call.contains(":Head") && !call.contains(":Describe")
        })
        .collect();
    assert_eq!(writes, Vec::<String>::new(), "a re-run wrote");
    for (name, output) in &run.steps {
        assert_eq!(output["changed"], false, "{name} changed something: {output}");
    }
}

/// The Lambda's configuration for steps run in this process: the stack's replication role and
/// `vars` (as `S3DR_*` settings; empty values are unset).
pub fn lambda_config(vars: &[(&str, &str)]) -> s3_dr::config::Config {
    s3_dr::config::Config::from_lookup(|name| match name {
        "S3DR_REPLICATION_ROLE_ARN" => Some(REPLICATION_ROLE.to_owned()),
        _ => vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned()),
    })
    .unwrap()
}

/// Steps run in this process through the Lambda's own dispatcher, as a named execution would run
/// them (for runs a test abandons half-way, or drives step by step).
pub struct InProcess {
    pub config: s3_dr::config::Config,
    pub clients: Clients,
}

impl InProcess {
    pub async fn new(stack: &Stack, vars: &[(&str, &str)]) -> InProcess {
        InProcess { config: lambda_config(vars), clients: stack.clients().await }
    }

    pub fn context(&self) -> s3_dr::steps::StepContext<'_> {
        s3_dr::steps::StepContext {
            config: &self.config,
            clients: &self.clients,
            account_id: Some(ACCOUNT_ID.to_owned()),
            dry_run: false,
            deadline: None,
        }
    }

    /// One step, as execution `execution` (its name is what heartbeats carry).
    pub async fn step(&self, execution: &str, step: s3_dr::steps::Step, state: Value) -> Result<Value, s3_dr::DrError> {
        s3_dr::steps::dispatch(
            &self.context(),
            &serde_json::json!({ "step": step.name(), "input": state, "execution": execution }),
        )
        .await
    }

    /// Several steps in order; each must succeed.
    pub async fn steps(&self, execution: &str, steps: &[s3_dr::steps::Step], mut state: Value) -> Value {
        for step in steps {
            state = self.step(execution, *step, state).await.unwrap_or_else(|e| panic!("{}: {e}", step.name()));
        }
        state
    }
}

/// The protect steps up to and including StartBackfill.
pub const UP_TO_THE_BACKFILL: [s3_dr::steps::Step; 5] = [
    s3_dr::steps::Step::ValidateSource,
    s3_dr::steps::Step::EnableSourceVersioning,
    s3_dr::steps::Step::EnsureDestination,
    s3_dr::steps::Step::EnableReplication,
    s3_dr::steps::Step::StartBackfill,
];

/// A bucket created with Object Lock enabled.
pub async fn create_locked_bucket(s3: &aws_sdk_s3::Client, name: &str, region: &str) {
    s3.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
}

/// A JSON request to a control endpoint of the local tooling (the fault proxy's
/// `/__s3dr/faults`, the stack's `/__s3dr/lambda-faults`): plain HTTP/1.0 on loopback.
pub fn control(method: &str, url: &str, body: Option<&Value>) -> Value {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http URL: {url}"));
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.") && head.contains(" 200 "), "{method} {url}: {head}\n{text}");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Every execution of `workflows` whose name starts with `name_prefix`, once none of them runs
/// (waiting up to `timeout`): what a sweep or a repeated event started, settled.
#[allow(dead_code)]
pub async fn settled_executions(
    stack: &Stack,
    workflows: &[&str],
    name_prefix: &str,
    timeout: Duration,
) -> Vec<(String, ExecutionStatus)> {
    let sfn = stack.sfn().await;
    let deadline = Instant::now() + timeout;
    loop {
        let mut found = Vec::new();
        for workflow in workflows {
            let mut pages =
                sfn.list_executions().state_machine_arn(stack.workflow_arn(workflow)).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.expect("ListExecutions");
                found.extend(
                    page.executions()
                        .iter()
                        .filter(|e| e.name().starts_with(name_prefix))
                        .map(|e| (e.name().to_owned(), e.status().clone())),
                );
            }
        }
        let running = found.iter().filter(|(_, status)| *status == ExecutionStatus::Running).count();
        if running == 0 {
            return found;
        }
        assert!(Instant::now() < deadline, "{running} executions still running: {found:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A new bucket in the source region holding `keys` (each object's body is its key), tagged
/// `dr=true`.
pub async fn tagged_source_with_keys(stack: &Stack, prefix: &str, keys: &[String]) -> String {
    let source = unique(prefix);
    let s3 = stack.s3(SOURCE_REGION).await;
    create_bucket(&s3, &source, SOURCE_REGION).await;
    futures::stream::iter(keys)
        .for_each_concurrent(16, |key| {
            let (s3, source) = (&s3, &source);
            async move {
                s3.put_object().bucket(source).key(key).body(key.as_bytes().to_vec().into()).send().await.unwrap();
            }
        })
        .await;
    tag_bucket(&s3, &source, &[("dr", "true")]).await;
    source
}

/// Key -> number of versions in `bucket` (fewer than 1,000 versions: one page).
pub async fn versions(s3: &aws_sdk_s3::Client, bucket: &str) -> std::collections::BTreeMap<String, usize> {
    let listed = s3.list_object_versions().bucket(bucket).send().await.unwrap();
    let mut found = std::collections::BTreeMap::new();
    for version in listed.versions() {
        *found.entry(version.key().unwrap().to_owned()).or_insert(0) += 1;
    }
    found
}
