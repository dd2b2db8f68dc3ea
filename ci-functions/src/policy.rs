//! Which functions a node's executors register (ci-plugin.md §1.2): pure and exact.

use std::collections::{BTreeSet, HashMap};

use gearman_proto::FunctionName;
use gearman_worker::FunctionSet;

use crate::expr::Expr;
use crate::label::{Label, ProjectName};
use crate::naming;

/// Whether a node takes any job or only jobs tied to it by label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NodeMode {
    /// Any job it can run.
    #[default]
    Normal,
    /// Only jobs whose label expression names it ("leave this machine for tied jobs only").
    Exclusive,
}

/// What the policy needs to know of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its name, which is also one of its label atoms.
    pub name: Label,
    /// Its labels.
    pub labels: BTreeSet<Label>,
    /// Normal or exclusive.
    pub mode: NodeMode,
    /// Offline nodes register nothing.
    pub online: bool,
}

impl NodeInfo {
    /// Its label atoms: its labels plus its own name.
    pub fn atoms(&self) -> BTreeSet<&Label> {
        self.labels
            .iter()
            .chain(std::iter::once(&self.name))
            .collect()
    }
}

/// What the policy needs to know of a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectInfo {
    /// Its short name.
    pub name: ProjectName,
    /// Its label expression, if it has one.
    pub label: Option<Expr>,
    /// Disabled projects are skipped.
    pub disabled: bool,
}

/// The functions every executor of `node` registers for `projects`:
/// - an offline node: none;
/// - a disabled project: none;
/// - a project without a label: `build:P`, unless the node is exclusive;
/// - a project whose expression E holds over the node's atoms: `build:P`, and `build:P:a` for
///   every atom `a` of E (negated ones included) that the node has.
///
/// For many nodes over the same projects, [`ProjectIndex`] gives the same sets faster: it
/// parses nothing and spells each function name once, not once per node.
pub fn functions_for(node: &NodeInfo, projects: &[ProjectInfo]) -> BTreeSet<FunctionName> {
    if !node.online {
        return BTreeSet::new();
    }
    let atoms = NodeAtoms::new(node);
    let mut out = Vec::with_capacity(projects.len() + projects.len() / 4);
    let mut scratch = Vec::new();
    for p in projects {
        contribute(node, &atoms, p, &mut scratch, &mut out);
    }
    // `collect` sorts (one pass over what is already in order) and builds the tree in bulk.
    out.into_iter().collect()
}

/// The functions one project adds to `node`'s set ([`functions_for`] of that project alone), in
/// name order.
pub fn functions_for_project(node: &NodeInfo, project: &ProjectInfo) -> Vec<FunctionName> {
    let mut out = Vec::new();
    if node.online {
        contribute(
            node,
            &NodeAtoms::new(node),
            project,
            &mut Vec::new(),
            &mut out,
        );
        out.sort_unstable();
    }
    out
}

/// A node's atoms (labels and name) as sorted, deduplicated strings.
struct NodeAtoms<'a>(Vec<&'a str>);

impl<'a> NodeAtoms<'a> {
    fn new(node: &'a NodeInfo) -> Self {
        let mut atoms: Vec<&str> = node
            .labels
            .iter()
            .chain(std::iter::once(&node.name))
            .map(Label::as_str)
            .collect();
        atoms.sort_unstable();
        atoms.dedup();
        Self(atoms)
    }

    fn has(&self, atom: &str) -> bool {
        // A handful of atoms: a linear scan beats hashing and binary search. Labels often share
        // a length ("trusty", "xenial"): the first byte is compared before the whole string.
        let first = atom.as_bytes().first();
        self.0
            .iter()
            .any(|a| a.len() == atom.len() && a.as_bytes().first() == first && *a == atom)
    }
}

/// Appends the functions `project` adds on `node` (online) to `out`, unsorted.
fn contribute<'p>(
    node: &NodeInfo,
    atoms: &NodeAtoms<'_>,
    project: &'p ProjectInfo,
    scratch: &mut Vec<&'p str>,
    out: &mut Vec<FunctionName>,
) {
    if project.disabled {
        return;
    }
    match &project.label {
        None if node.mode == NodeMode::Normal => out.push(naming::build(&project.name)),
        None => {}
        Some(expr) if expr.eval(&|a: &str| atoms.has(a)) => {
            out.push(naming::build(&project.name));
            scratch.clear();
            expr.atoms_into(scratch);
            scratch.sort_unstable();
            scratch.dedup();
            for atom in scratch.iter().filter(|a| atoms.has(a)) {
                // `atom` equals one of the node's labels, so it is a valid label.
                out.push(naming::build_on_str(&project.name, atom));
            }
        }
        Some(_) => {}
    }
}

/// One step of a compiled label expression, evaluated on a stack of booleans (postfix order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Atom(u32),
    Not,
    And,
    Or,
    Implies,
    Iff,
}

/// A label expression compiled against interned atoms.
#[derive(Clone, Debug)]
struct Program {
    ops: Box<[Op]>,
    /// The expression's distinct atoms, in name order.
    atoms: Box<[u32]>,
}

impl Program {
    fn eval(&self, has: &[bool], stack: &mut Vec<bool>) -> bool {
        stack.clear();
        for op in self.ops.iter() {
            let b = match op {
                Op::Atom(id) => {
                    stack.push(has[*id as usize]);
                    continue;
                }
                Op::Not => {
                    if let Some(top) = stack.last_mut() {
                        *top = !*top;
                    }
                    continue;
                }
                _ => stack.pop().unwrap_or_default(),
            };
            if let Some(a) = stack.last_mut() {
                *a = match op {
                    Op::And => *a & b,
                    Op::Or => *a | b,
                    Op::Implies => !*a | b,
                    _ => *a == b,
                };
            }
        }
        stack.pop().unwrap_or_default()
    }
}

/// What a project registers, with every function name spelled in advance.
#[derive(Clone, Debug)]
struct Entry {
    name: ProjectName,
    /// `build:P`
    build: FunctionName,
    rule: Rule,
}

#[derive(Clone, Debug)]
enum Rule {
    Disabled,
    /// No label: `build:P` on every normal node.
    Unlabelled,
    /// A label expression: the program's index, and `build:P:a` for each of its atoms.
    Labelled {
        program: u32,
        on: Box<[FunctionName]>,
    },
}

/// Projects prepared for computing many nodes' function sets: every label expression compiled
/// once against interned atoms (identical expressions share one program, evaluated once per
/// node), every function name spelled once and then shared by reference count.
///
/// [`functions_for`](Self::functions_for) gives exactly the set of the free
/// [`functions_for`](crate::functions_for); [`delta`](Self::delta) and
/// [`replace`](Self::replace) handle one project changing without going over the others.
#[derive(Clone, Debug, Default)]
pub struct ProjectIndex {
    /// Every atom of every expression.
    atoms: HashMap<Box<str>, u32>,
    /// The atoms by number, as labels (`None` for an atom no node can carry, such as one with a
    /// space: it names no function).
    atom_labels: Vec<Option<Label>>,
    programs: Vec<Program>,
    program_ids: HashMap<Expr, u32>,
    /// In the order given.
    entries: Vec<Entry>,
    /// Entry indices in project-name order, so that node sets come out almost sorted, and the
    /// entries of one name are found by binary search.
    order: Vec<u32>,
}

impl ProjectIndex {
    /// Prepares `projects`; their positions are kept for [`delta`](Self::delta) and
    /// [`replace`](Self::replace).
    pub fn new(projects: &[ProjectInfo]) -> Self {
        let mut index = Self::default();
        index.entries.reserve(projects.len());
        for p in projects {
            let entry = index.entry(p);
            index.entries.push(entry);
        }
        index.sort_order();
        index
    }

    /// Number of projects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no projects.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The functions every executor of `node` registers: the same set as
    /// [`functions_for`](crate::functions_for) over the projects this index holds.
    pub fn functions_for(&self, node: &NodeInfo) -> BTreeSet<FunctionName> {
        self.functions_vec(node).into_iter().collect()
    }

    /// The same functions as [`functions_for`](Self::functions_for) in a sorted `Vec` without
    /// repeats, as the worker's [`FunctionSet`] takes them.
    pub fn functions_vec(&self, node: &NodeInfo) -> Vec<FunctionName> {
        if !node.online {
            return Vec::new();
        }
        let has = self.node_atoms(node);
        let mut stack = Vec::new();
        let holds: Vec<bool> = self
            .programs
            .iter()
            .map(|p| p.eval(&has, &mut stack))
            .collect();
        let mut out = Vec::with_capacity(self.entries.len() + self.entries.len() / 4);
        for &i in &self.order {
            self.push_entry(&self.entries[i as usize], node.mode, &has, &holds, &mut out);
        }
        // Almost sorted already (only names whose project is a prefix of another's interleave):
        // the stable sort finds the runs and merges them.
        out.sort();
        out.dedup();
        out
    }

    /// The functions project number `i` adds to `node`'s set, in name order.
    ///
    /// # Panics
    /// If `i` is not below [`len`](Self::len).
    pub fn project_functions(&self, node: &NodeInfo, i: usize) -> Vec<FunctionName> {
        let mut out = Vec::new();
        if node.online {
            let has = self.node_atoms(node);
            let entry = &self.entries[i];
            let holds = match entry.rule {
                Rule::Labelled { program, .. } => {
                    Some(self.programs[program as usize].eval(&has, &mut Vec::new()))
                }
                _ => None,
            };
            self.push_single(entry, node.mode, &has, holds, &mut out);
            out.sort_unstable();
        }
        out
    }

    /// How `node`'s set changes if project number `i` becomes `project`: the functions that
    /// appear and those that go. A function another project of the same name still adds stays.
    ///
    /// # Panics
    /// If `i` is not below [`len`](Self::len).
    pub fn delta(&self, node: &NodeInfo, i: usize, project: &ProjectInfo) -> FunctionDelta {
        let before = self.project_functions(node, i);
        let after = functions_for_project(node, project);
        let mut delta = FunctionDelta::between(&before, &after);
        let old_name = &self.entries[i].name;
        let count = |name: &ProjectName| self.named(name).len();
        // Only projects named like number `i` spell the names it drops, and only projects named
        // like `project` those it adds: they matter only when such others exist.
        if count(old_name) > 1 {
            let others = self.others_named(node, i, old_name);
            delta.removed.retain(|f| others.binary_search(f).is_err());
        }
        let same = usize::from(project.name == *old_name);
        if count(&project.name) > same {
            let others = self.others_named(node, i, &project.name);
            delta.added.retain(|f| others.binary_search(f).is_err());
        }
        delta
    }

    /// Makes project number `i` be `project`.
    ///
    /// # Panics
    /// If `i` is not below [`len`](Self::len).
    pub fn replace(&mut self, i: usize, project: &ProjectInfo) {
        let entry = self.entry(project);
        let old = std::mem::replace(&mut self.entries[i], entry);
        if old.name != project.name {
            self.sort_order();
        }
    }

    /// Adds a project after the others (its number is the old [`len`](Self::len)).
    pub fn push(&mut self, project: &ProjectInfo) {
        let entry = self.entry(project);
        self.entries.push(entry);
        self.sort_order();
    }

    /// The numbers of the projects named `name`.
    fn named(&self, name: &ProjectName) -> &[u32] {
        let name_of = |i: &u32| &self.entries[*i as usize].name;
        let start = self.order.partition_point(|i| name_of(i) < name);
        let len = self.order[start..].partition_point(|i| name_of(i) == name);
        &self.order[start..start + len]
    }

    /// What the projects other than number `i` named `name` add on `node`, sorted.
    fn others_named(&self, node: &NodeInfo, i: usize, name: &ProjectName) -> Vec<FunctionName> {
        let mut out: Vec<FunctionName> = self
            .named(name)
            .iter()
            .map(|&j| j as usize)
            .filter(|&j| j != i)
            .flat_map(|j| self.project_functions(node, j))
            .collect();
        out.sort_unstable();
        out
    }

    fn sort_order(&mut self) {
        let len = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        let mut order: Vec<u32> = (0..len).collect();
        order.sort_by(|&a, &b| {
            self.entries[a as usize]
                .name
                .cmp(&self.entries[b as usize].name)
        });
        self.order = order;
    }

    /// Which interned atoms `node` has.
    fn node_atoms(&self, node: &NodeInfo) -> Vec<bool> {
        let mut has = vec![false; self.atom_labels.len()];
        for label in node.labels.iter().chain(std::iter::once(&node.name)) {
            if let Some(&id) = self.atoms.get(label.as_str()) {
                has[id as usize] = true;
            }
        }
        has
    }

    fn push_entry(
        &self,
        entry: &Entry,
        mode: NodeMode,
        has: &[bool],
        holds: &[bool],
        out: &mut Vec<FunctionName>,
    ) {
        let held = match entry.rule {
            Rule::Labelled { program, .. } => holds.get(program as usize).copied(),
            _ => None,
        };
        self.push_single(entry, mode, has, held, out);
    }

    /// Appends what `entry` adds; `holds` is whether its expression (if any) holds.
    fn push_single(
        &self,
        entry: &Entry,
        mode: NodeMode,
        has: &[bool],
        holds: Option<bool>,
        out: &mut Vec<FunctionName>,
    ) {
        match &entry.rule {
            Rule::Disabled => {}
            Rule::Unlabelled => {
                if mode == NodeMode::Normal {
                    out.push(entry.build.clone());
                }
            }
            Rule::Labelled { program, on } => {
                if holds != Some(true) {
                    return;
                }
                out.push(entry.build.clone());
                let atoms = &self.programs[*program as usize].atoms;
                for (atom, name) in atoms.iter().zip(on.iter()) {
                    if has[*atom as usize] {
                        out.push(name.clone());
                    }
                }
            }
        }
    }

    fn entry(&mut self, project: &ProjectInfo) -> Entry {
        let build = naming::build(&project.name);
        let rule = match &project.label {
            _ if project.disabled => Rule::Disabled,
            None => Rule::Unlabelled,
            Some(expr) => {
                let program = self.program(expr);
                let on = self.programs[program as usize]
                    .atoms
                    .iter()
                    .map(|&a| match &self.atom_labels[a as usize] {
                        Some(label) => naming::build_on(&project.name, label),
                        // No node has this atom: a placeholder, never used.
                        None => build.clone(),
                    })
                    .collect();
                Rule::Labelled { program, on }
            }
        };
        Entry {
            name: project.name.clone(),
            build,
            rule,
        }
    }

    /// The program of `expr`, compiled on first sight.
    fn program(&mut self, expr: &Expr) -> u32 {
        if let Some(&id) = self.program_ids.get(expr) {
            return id;
        }
        let mut ops = Vec::new();
        self.compile(expr, &mut ops);
        let mut names = Vec::new();
        expr.atoms_into(&mut names);
        names.sort_unstable();
        names.dedup();
        let atoms = names.iter().map(|a| self.intern(a)).collect();
        let id = u32::try_from(self.programs.len()).unwrap_or(u32::MAX);
        self.programs.push(Program {
            ops: ops.into(),
            atoms,
        });
        self.program_ids.insert(expr.clone(), id);
        id
    }

    fn compile(&mut self, expr: &Expr, ops: &mut Vec<Op>) {
        let (a, b, op) = match expr {
            Expr::Atom(a) => {
                let id = self.intern(a);
                ops.push(Op::Atom(id));
                return;
            }
            Expr::Not(e) => {
                self.compile(e, ops);
                ops.push(Op::Not);
                return;
            }
            Expr::And(a, b) => (a, b, Op::And),
            Expr::Or(a, b) => (a, b, Op::Or),
            Expr::Implies(a, b) => (a, b, Op::Implies),
            Expr::Iff(a, b) => (a, b, Op::Iff),
        };
        self.compile(a, ops);
        self.compile(b, ops);
        ops.push(op);
    }

    fn intern(&mut self, atom: &str) -> u32 {
        if let Some(&id) = self.atoms.get(atom) {
            return id;
        }
        let id = u32::try_from(self.atom_labels.len()).unwrap_or(u32::MAX);
        self.atom_labels.push(Label::new(atom).ok());
        self.atoms.insert(atom.into(), id);
        id
    }
}

/// How a node's function set changes: functions to add and functions to drop, each in name
/// order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionDelta {
    /// Functions that appear.
    pub added: Vec<FunctionName>,
    /// Functions that go.
    pub removed: Vec<FunctionName>,
}

impl FunctionDelta {
    /// The difference between two sorted lists without repeats.
    pub fn between(before: &[FunctionName], after: &[FunctionName]) -> Self {
        let mut delta = Self::default();
        let (mut b, mut a) = (before.iter().peekable(), after.iter().peekable());
        loop {
            match (b.peek(), a.peek()) {
                (Some(x), Some(y)) => match x.cmp(y) {
                    std::cmp::Ordering::Less => delta.removed.extend(b.next().cloned()),
                    std::cmp::Ordering::Greater => delta.added.extend(a.next().cloned()),
                    std::cmp::Ordering::Equal => {
                        b.next();
                        a.next();
                    }
                },
                (Some(_), None) => delta.removed.extend(b.by_ref().cloned()),
                (None, Some(_)) => delta.added.extend(a.by_ref().cloned()),
                (None, None) => return delta,
            }
        }
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// Applies the change to a set.
    pub fn apply(&self, set: &mut BTreeSet<FunctionName>) {
        for f in &self.removed {
            set.remove(f);
        }
        set.extend(self.added.iter().cloned());
    }

    /// Applies the change to a worker's function set (added functions get no timeout).
    pub fn apply_to(&self, set: &mut FunctionSet) {
        for f in &self.removed {
            set.remove(f);
        }
        for f in &self.added {
            set.insert(f.clone(), None);
        }
    }
}
