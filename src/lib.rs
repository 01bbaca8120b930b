//! s3-dr: tag an S3 bucket `dr=true` and it is replicated to a disaster-recovery region.
//!
//! The library holds everything; the binaries under `src/bin/` are thin: the step Lambda
//! (`s3-dr-lambda`) and the operator CLI (`s3-dr`).

pub mod backfill;
pub mod bucket;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod destination;
pub mod detach;
pub mod error;
pub mod event;
pub mod executions;
pub mod failback;
pub mod failover;
pub mod inventory;
pub mod lambda;
pub mod mrap;
pub mod naming;
pub mod plan;
pub mod replication;
pub mod settings;
pub mod status;
pub mod steps;
pub mod tags;
pub mod verify;

pub use error::DrError;
