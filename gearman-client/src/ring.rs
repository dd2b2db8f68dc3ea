//! [`Ring`]: which server a job with a unique id goes to, as libgearman 2.2 routes it.

use md5::{Digest, Md5};

/// Points per replica: an MD5 digest is four little-endian 32-bit points.
const POINTS_PER_DIGEST: usize = 4;
/// Digests per server (`host:port-0` to `host:port-3`): 16 points per server.
const REPLICAS: u32 = 4;
/// The port a server named without one (or with port 0) is hashed with, as libgearman does.
const DEFAULT_PORT: u16 = 4730;

/// A ketama consistent-hash ring over a server list, compatible with libgearman 2.2's
/// selection by unique (`gearman_client_set_server_selection_by_unique`).
///
/// Each server `host:port` puts 16 points on a 32-bit circle: the MD5 digests of
/// `"host:port-0"` to `"host:port-3"`, each read as four little-endian `u32`s. The host is
/// hashed as written (not resolved; IPv6 without brackets), the port in decimal (4730 when
/// absent). A unique id goes to the server of the first point at or after the first four bytes
/// of its MD5 digest (little-endian), wrapping around. So the choice depends on the set of
/// server names, not on their order, and adding one server to N moves only the keys the new
/// server's points take over (about 1/(N+1) of them), all to the new server.
///
/// When the chosen server is down, libgearman asks again "after" it: walking the ring from
/// the failed server's lowest point, the first other server. [`order`](Self::order) lists that
/// chain, then every server not on it in ring order from the key, so a client that takes the
/// first live server of the list picks what libgearman and the `gearman` crate pick with the
/// same servers down.
///
/// ```
/// use gearman_client::Ring;
///
/// let forward = Ring::new(&["10.0.0.1:4730", "10.0.0.2:4730", "10.0.0.3:4730"]);
/// let backward = Ring::new(&["10.0.0.3:4730", "10.0.0.2:4730", "10.0.0.1:4730"]);
/// let pick = forward.order(b"order-42")[0];
/// assert_eq!(pick, 1); // 10.0.0.2, as libgearman 2.2 picks it
/// assert_eq!(backward.order(b"order-42")[0], 1); // the same server, at another index
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// `(point, server index)`, sorted.
    points: Vec<(u32, usize)>,
    /// Per server: the next server libgearman tries when it is down (`None` with one server).
    after: Vec<Option<usize>>,
    servers: usize,
}

impl Ring {
    /// The ring of `servers`, each `host:port` (or `host`, `[v6]:port`), indexed as given.
    pub fn new<S: AsRef<str>>(servers: &[S]) -> Self {
        let mut points = Vec::with_capacity(servers.len() * REPLICAS as usize * POINTS_PER_DIGEST);
        for (index, server) in servers.iter().enumerate() {
            let (host, port) = host_and_port(server.as_ref());
            for replica in 0..REPLICAS {
                let digest = Md5::digest(format!("{host}:{port}-{replica}").as_bytes());
                points.extend(digest.chunks_exact(4).map(|w| (le_u32(w), index)));
            }
        }
        points.sort_unstable();
        let after = (0..servers.len())
            .map(|failed| {
                let from = points.iter().position(|&(_, s)| s == failed)?;
                (1..points.len())
                    .map(|step| points[(from + step) % points.len()].1)
                    .find(|&s| s != failed)
            })
            .collect();
        Self {
            points,
            after,
            servers: servers.len(),
        }
    }

    /// How many servers the ring was built from.
    pub fn len(&self) -> usize {
        self.servers
    }

    /// Whether the ring has no server.
    pub fn is_empty(&self) -> bool {
        self.servers == 0
    }

    /// The servers for `unique`, in the order to try them: the one libgearman picks first, then
    /// its fail-over chain, then the rest in ring order. Every server appears exactly once.
    pub fn order(&self, unique: &[u8]) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.servers);
        if self.points.is_empty() {
            return order;
        }
        let key = le_u32(&Md5::digest(unique)[..4]);
        let start = self.points.partition_point(|&(p, _)| p < key) % self.points.len();
        let mut next = Some(self.points[start].1);
        while let Some(server) = next.filter(|s| !order.contains(s)) {
            order.push(server);
            next = self.after[server];
        }
        for step in 0..self.points.len() {
            let server = self.points[(start + step) % self.points.len()].1;
            if !order.contains(&server) {
                order.push(server);
            }
        }
        order
    }
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// A server name as libgearman keeps it: the host as written without IPv6 brackets, and the
/// port as a number (4730 when absent, 0 or not a number).
fn host_and_port(server: &str) -> (&str, u16) {
    let (host, port) = match server.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((host, rest)) => (host, rest.strip_prefix(':')),
        None => match server.rsplit_once(':') {
            // Two colons or more without brackets: a bare IPv6 address, no port.
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            _ => (server, None),
        },
    };
    let port = port
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|&p| p != 0)
        .unwrap_or(DEFAULT_PORT);
    (host, port)
}

#[cfg(test)]
mod tests;
