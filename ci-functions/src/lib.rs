#![doc = include_str!("../README.md")]

mod book;
mod expr;
mod generation;
mod host;
mod label;
#[cfg(feature = "memory-host")]
pub mod memory;
pub mod naming;
mod payload;
mod policy;
mod runner;

pub use book::BuildBook;
pub use expr::{Expr, ExprError};
pub use generation::Generation;
pub use host::{AbortOutcome, BuildRequest, CiHost, HostNode, RunningBuild};
pub use label::{Label, ManagerName, NameError, ProjectName, MAX_NAME_LEN};
pub use payload::{
    offline_when_complete, parse_build_ref, parse_params, BuildParams, BuildRef, BuildReport,
    BuildResult, PayloadError,
};
pub use policy::{
    functions_for, functions_for_project, FunctionDelta, NodeInfo, NodeMode, ProjectIndex,
    ProjectInfo,
};
pub use runner::{ConfigureWorker, ExecutorCounts, Runner, RunnerError, RunnerObserver};

pub use gearman_proto as proto;
