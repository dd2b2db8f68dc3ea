//! The access check of one connection (feature `tls`): each frame the connection decodes is
//! checked against the server's [`Acl`](crate::Acl) for the connection's verified subject
//! before the core sees it. A refusal is a typed answer (an ERROR packet `PERMISSION_DENIED`,
//! or `ERR PERMISSION_DENIED` for an admin command), counted, and logged at WARN once per
//! connection (then at DEBUG).

use crate::inbound::Inbound;

#[cfg(feature = "tls")]
pub(crate) use with_tls::Guard;

#[cfg(feature = "tls")]
mod with_tls {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use bytes::Bytes;
    use gearman_proto::{ErrorPacket, Request, Response};

    use super::Inbound;
    use crate::Acl;

    /// One connection's subject, the ACL, and the server's refusal count.
    #[derive(Debug)]
    pub(crate) struct Guard {
        pub(crate) acl: Arc<Acl>,
        pub(crate) subject: Option<String>,
        pub(crate) refusals: Arc<AtomicU64>,
        pub(crate) peer: SocketAddr,
        pub(crate) logged: bool,
    }

    fn denied(what: String) -> Inbound {
        Inbound::Reply(Box::new(Response::Error(ErrorPacket {
            code: Bytes::from_static(b"PERMISSION_DENIED"),
            text: Bytes::from(what),
        })))
    }

    impl Guard {
        /// `inbound` if the subject may do it, else the refusal to answer with.
        pub(crate) fn check(&mut self, inbound: Inbound) -> Inbound {
            let subject = self.subject.as_deref();
            let refusal = match &inbound {
                Inbound::Request(req) => match &**req {
                    Request::CanDo(f) | Request::CanDoTimeout { function: f, .. }
                        if !self.acl.can_register(subject, f.as_bytes()) =>
                    {
                        Some(denied(format!(
                            "not allowed to register {}",
                            String::from_utf8_lossy(f.as_bytes())
                        )))
                    }
                    Request::Submit(s) if !self.acl.can_invoke(subject, s.function.as_bytes()) => {
                        Some(denied(format!(
                            "not allowed to submit to {}",
                            String::from_utf8_lossy(s.function.as_bytes())
                        )))
                    }
                    Request::SubmitEpoch { function: f, .. }
                    | Request::SubmitSched { function: f, .. }
                        if !self.acl.can_invoke(subject, f.as_bytes()) =>
                    {
                        Some(denied(format!(
                            "not allowed to submit to {}",
                            String::from_utf8_lossy(f.as_bytes())
                        )))
                    }
                    Request::SubmitReduce(s)
                        if !self.acl.can_invoke(subject, s.function.as_bytes())
                            || !self.acl.can_invoke(subject, s.reducer.as_bytes()) =>
                    {
                        Some(denied(format!(
                            "not allowed to submit to {}",
                            String::from_utf8_lossy(s.function.as_bytes())
                        )))
                    }
                    _ => None,
                },
                Inbound::Admin(_) if !self.acl.can_admin(subject) => Some(Inbound::Text(
                    Bytes::from_static(b"ERR PERMISSION_DENIED Admin+commands+are+not+allowed\r\n"),
                )),
                _ => None,
            };
            let Some(refusal) = refusal else {
                return inbound;
            };
            self.refusals.fetch_add(1, Ordering::Relaxed);
            if !self.logged {
                self.logged = true;
                tracing::warn!(peer = %self.peer, subject = ?self.subject, refused = ?refusal,
                    "ACL refusal (further ones on this connection at DEBUG)");
            } else {
                tracing::debug!(peer = %self.peer, subject = ?self.subject, refused = ?refusal,
                    "ACL refusal");
            }
            refusal
        }
    }
}

/// Without TLS there is no ACL: no guard can exist.
#[cfg(not(feature = "tls"))]
#[derive(Debug)]
pub(crate) enum Guard {}

#[cfg(not(feature = "tls"))]
impl Guard {
    pub(crate) fn check(&mut self, _inbound: Inbound) -> Inbound {
        match *self {}
    }
}
