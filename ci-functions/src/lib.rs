//! `ci-functions` is the Jenkins gearman plugin's contract as a library: which functions a CI
//! node registers (`build:PROJECT` and `build:PROJECT:LABEL`, computed from Jenkins label
//! expressions), and the names of the management functions (`stop:MANAGER`,
//! `set_description:MANAGER`).
//!
//! So far: label expressions ([`Expr`]), validated names ([`Label`], [`ProjectName`],
//! [`ManagerName`]), the function-set policy ([`functions_for`]) and the one place names are
//! spelled ([`naming`]). The `CiHost` trait and the executor and management workers build on it
//! next.
//!
//! ```
//! use std::collections::BTreeSet;
//! use ci_functions::{functions_for, Expr, Label, NodeInfo, NodeMode, ProjectInfo, ProjectName};
//!
//! let node = NodeInfo {
//!     name: Label::new("precise-123")?,
//!     labels: BTreeSet::from([Label::new("precise")?, Label::new("devstack")?]),
//!     mode: NodeMode::Normal,
//!     online: true,
//! };
//! let dsvm = ProjectInfo {
//!     name: ProjectName::new("dsvm")?,
//!     label: Some(Expr::parse("precise && devstack")?),
//!     disabled: false,
//! };
//! let names: Vec<String> = functions_for(&node, &[dsvm]).iter().map(|f| f.to_string()).collect();
//! assert_eq!(names, ["build:dsvm", "build:dsvm:devstack", "build:dsvm:precise"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod book;
mod expr;
mod generation;
mod host;
mod label;
pub mod naming;
mod payload;
mod policy;
mod runner;
pub mod testing;

pub use book::BuildBook;
pub use expr::{Expr, ExprError};
pub use generation::Generation;
pub use host::{AbortOutcome, BuildRequest, CiHost, HostNode, RunningBuild};
pub use label::{Label, ManagerName, NameError, ProjectName, MAX_NAME_LEN};
pub use payload::{
    offline_when_complete, parse_build_ref, parse_params, BuildParams, BuildRef, BuildReport,
    BuildResult, PayloadError,
};
pub use policy::{functions_for, NodeInfo, NodeMode, ProjectInfo};
pub use runner::{Runner, RunnerError};

pub use gearman_proto as proto;
