//! The application context handed to every HTTP handler, socket handler and service.

use std::ops::Deref;
use std::sync::Arc;

use crate::config::Config;
use crate::cpu::CpuPool;
use crate::realtime::notifier::Notifier;
use crate::services::login_throttle::LoginThrottle;
use crate::services::presence::Presence;
use crate::services::rate_limits::RateLimits;
use crate::services::sessions::SessionCache;
use crate::services::socket_cap::SocketCap;
use crate::store::Store;
use crate::store::blobs::Blobs;
use crate::store::writer::MessageWriter;

#[derive(Clone)]
pub struct Ctx(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    /// Where attachment bytes live.
    pub blobs: Blobs,
    pub writer: MessageWriter,
    pub notifier: Notifier,
    pub presence: Presence,
    pub cpu: CpuPool,
    pub login_throttle: LoginThrottle,
    pub sessions: SessionCache,
    pub limits: RateLimits,
    pub socket_cap: SocketCap,
}

impl Ctx {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for Ctx {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
