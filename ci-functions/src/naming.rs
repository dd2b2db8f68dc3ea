//! The only place that spells function names.

use gearman_proto::FunctionName;

use crate::label::{Label, ManagerName, ProjectName};

fn function(name: String) -> FunctionName {
    // Validated parts (each at most 200 printable ASCII bytes, no NUL) always make a valid name.
    FunctionName::try_from(name).unwrap_or_else(|e| unreachable!("{e}"))
}

/// `build:PROJECT`
pub fn build(project: &ProjectName) -> FunctionName {
    let project = project.as_str();
    let mut name = String::with_capacity(6 + project.len());
    name.push_str("build:");
    name.push_str(project);
    function(name)
}

/// `build:PROJECT:LABEL`
pub fn build_on(project: &ProjectName, label: &Label) -> FunctionName {
    build_on_str(project, label.as_str())
}

/// `build:PROJECT:LABEL` from a label atom known to be a valid label (one a node carries).
pub(crate) fn build_on_str(project: &ProjectName, label: &str) -> FunctionName {
    let project = project.as_str();
    let mut name = String::with_capacity(7 + project.len() + label.len());
    name.push_str("build:");
    name.push_str(project);
    name.push(':');
    name.push_str(label);
    function(name)
}

/// `stop:MANAGER`
pub fn stop(manager: &ManagerName) -> FunctionName {
    function(format!("stop:{manager}"))
}

/// `set_description:MANAGER`
pub fn set_description(manager: &ManagerName) -> FunctionName {
    function(format!("set_description:{manager}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let p = ProjectName::new("py27").unwrap();
        let l = Label::new("trusty").unwrap();
        let m = ManagerName::new("ci01").unwrap();
        assert_eq!(build(&p).to_string(), "build:py27");
        assert_eq!(build_on(&p, &l).to_string(), "build:py27:trusty");
        assert_eq!(stop(&m).to_string(), "stop:ci01");
        assert_eq!(set_description(&m).to_string(), "set_description:ci01");
    }
}
