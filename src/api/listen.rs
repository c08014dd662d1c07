//! The HTTP listener: accepts connections and serves the warp filter with hyper's HTTP/1.1
//! server, with the limits warp's own server does not set. What must stay true: no client can
//! hold the daemon's descriptors or memory for long without sending a request.
//!
//! - HTTP/1.1 only. pantau sits behind a reverse proxy for TLS (and HTTP/2 to browsers);
//!   browsers speak HTTP/1.1 to a plain-text port and proxies speak it to their upstreams, so
//!   HTTP/2 here would only add a second protocol to bound (streams, header lists, pings). A
//!   client that opens with the HTTP/2 preface is closed at once.
//! - A cap on open connections (`max_connections`). When every slot is taken, the connection
//!   that has waited longest for a request (before its first one or between two) is closed to
//!   make room, as nginx does with its reusable connections, so idle and trickling clients
//!   cannot lock others out.
//! - A deadline for a request's head, also for a connection that sends nothing at all
//!   (`header_read_timeout`), a size limit on it, and a deadline on writes that make no
//!   progress (`WRITE_STALL_TIMEOUT`, a client that stops reading).
//! - Upgraded websockets leave the connection cap and count against their own
//!   (`ScreenSlots`, `max_screens`), handed to each request as an extension.
//! - An answer given before the request's body was read to its end carries
//!   `Connection: close`: the unread rest must not be read as the next request.
//! - Every answer carries `X-Content-Type-Options: nosniff`, and `TCP_NODELAY` is set so small
//!   live messages leave at once.

use crate::app::counters::ConnectionMetrics;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use warp::Filter;
use warp::http::{HeaderValue, Request, Response, StatusCode};

/// A write that makes no progress for this long (the client stopped reading) ends the connection.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a new connection waits for the slot of the connection closed to make room for it.
const ROOM_WAIT: Duration = Duration::from_millis(250);

/// The fewest descriptors that must be left for clients once the reserve is kept.
const MIN_CLIENT_FILES: u64 = 16;

/// The peer address of a connection, put in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The local address a connection arrived at (the daemon's own address and port as the client
/// reached it), put in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ServerAddr(pub SocketAddr);

/// The client address as a filter.
pub fn client_addr()
-> impl Filter<Extract = (Option<SocketAddr>,), Error = std::convert::Infallible> + Copy {
    warp::ext::optional::<ClientAddr>().map(|c: Option<ClientAddr>| c.map(|c| c.0))
}

/// The local address the request's connection arrived at, as a filter.
pub fn server_addr()
-> impl Filter<Extract = (Option<SocketAddr>,), Error = std::convert::Infallible> + Copy {
    warp::ext::optional::<ServerAddr>().map(|c: Option<ServerAddr>| c.map(|c| c.0))
}

/// The live screens (upgraded websockets) the daemon may hold at once, shared by every
/// connection and put in each request's extensions.
#[derive(Debug, Clone)]
pub struct ScreenSlots {
    slots: Arc<Semaphore>,
    max: usize,
}

/// One taken screen slot: given back when dropped (when the websocket session ends).
#[derive(Debug)]
pub struct ScreenSlot(#[allow(dead_code)] OwnedSemaphorePermit);

impl ScreenSlots {
    pub fn new(max: usize) -> Self {
        ScreenSlots {
            slots: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            max,
        }
    }

    /// Takes a slot; None when all `max` are taken.
    pub fn try_take(&self) -> Option<ScreenSlot> {
        self.slots.clone().try_acquire_owned().ok().map(ScreenSlot)
    }

    /// The most screens at once.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// Limits on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open HTTP connections at once (upgraded websockets not counted).
    pub max_connections: usize,
    /// Upgraded websockets (live screens) at once; more are answered 503.
    pub max_screens: usize,
    /// Time a client has to send a request's head, on a new connection and between requests.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            max_screens: 2000,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
        }
    }
}

impl ConnectionLimits {
    /// The limits that fit in `open_files` descriptors once `reserve` are kept for everything
    /// else (database files, feed clients, the listener): the same when they fit, else
    /// connections and screens cut in the same proportion. Err(what to do) when fewer than
    /// `MIN_CLIENT_FILES` would be left for clients.
    pub fn fit(self, open_files: u64, reserve: u64) -> Result<ConnectionLimits, String> {
        let available = open_files.saturating_sub(reserve);
        if available < MIN_CLIENT_FILES {
            return Err(format!(
                "the open-file limit is {open_files}, and pantau keeps {reserve} descriptors for its database, feeds and listener, which leaves {available} for clients (at least {MIN_CLIENT_FILES} are needed); raise the limit (`ulimit -n 65536`, or `LimitNOFILE=65536` in the systemd unit)"
            ));
        }
        let (connections, screens) = (self.max_connections as u64, self.max_screens as u64);
        if connections + screens <= available {
            return Ok(self);
        }
        let share = (u128::from(available) * u128::from(connections)
            / u128::from(connections + screens).max(1)) as u64;
        let connections = share.clamp(1, available - 1);
        let screens = (available - connections).min(screens).max(1);
        Ok(ConnectionLimits {
            max_connections: connections as usize,
            max_screens: screens as usize,
            ..self
        })
    }
}

/// Raises the soft open-file limit to the hard limit; returns the limit now in force, or None
/// where the platform has none.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let limit = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => n,
            Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?.0,
        };
        (limit != rlimit::INFINITY).then_some(limit)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Which connections wait for a request

/// The connections waiting for a request (a first one, or the next on a kept-alive connection),
/// by the order in which they began to wait.
#[derive(Default)]
struct Waiting {
    next: u64,
    oldest_first: BTreeMap<u64, Arc<Notify>>,
}

impl Waiting {
    /// Tells the connection that has waited longest to close; false when none waits.
    fn close_oldest(&mut self) -> bool {
        match self.oldest_first.pop_first() {
            Some((_, close)) => {
                close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// One connection's place among the waiting ones.
struct Tracker {
    waiting: Arc<Mutex<Waiting>>,
    /// Its key in `Waiting` while it waits; 0 while it serves a request.
    key: AtomicU64,
    close: Arc<Notify>,
}

fn lock(waiting: &Mutex<Waiting>) -> std::sync::MutexGuard<'_, Waiting> {
    match waiting.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Tracker {
    /// A new connection: it waits for its first request.
    fn new(waiting: Arc<Mutex<Waiting>>) -> Arc<Tracker> {
        let t = Arc::new(Tracker {
            waiting,
            key: AtomicU64::new(0),
            close: Arc::new(Notify::new()),
        });
        t.wait();
        t
    }

    fn wait(&self) {
        let mut w = lock(&self.waiting);
        if self.key.load(Ordering::Relaxed) != 0 {
            return;
        }
        w.next += 1;
        let key = w.next;
        w.oldest_first.insert(key, self.close.clone());
        self.key.store(key, Ordering::Relaxed);
    }

    fn busy(&self) {
        let mut w = lock(&self.waiting);
        let key = self.key.swap(0, Ordering::Relaxed);
        if key != 0 {
            w.oldest_first.remove(&key);
        }
    }

    fn is_waiting(&self) -> bool {
        let _w = lock(&self.waiting);
        self.key.load(Ordering::Relaxed) != 0
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let key = *self.key.get_mut();
        if key != 0 {
            lock(&self.waiting).oldest_first.remove(&key);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The service around warp's: extensions in, headers out

/// A request's body, noting when it has been read to its end.
pub struct RequestBody {
    inner: hyper::body::Incoming,
    read: Arc<AtomicBool>,
}

impl http_body::Body for RequestBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Clone)]
struct ConnectionService<S> {
    inner: S,
    client: SocketAddr,
    server: SocketAddr,
    screens: ScreenSlots,
    tracker: Arc<Tracker>,
}

impl<S, B> tower_service::Service<Request<hyper::body::Incoming>> for ConnectionService<S>
where
    S: tower_service::Service<Request<RequestBody>, Response = Response<B>>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<hyper::body::Incoming>) -> Self::Future {
        self.tracker.busy();
        let had_body = !hyper::body::Body::is_end_stream(req.body());
        let read = Arc::new(AtomicBool::new(false));
        let mut req = req.map(|inner| RequestBody {
            inner,
            read: read.clone(),
        });
        let ext = req.extensions_mut();
        ext.insert(ClientAddr(self.client));
        ext.insert(ServerAddr(self.server));
        ext.insert(self.screens.clone());
        Answer {
            inner: Box::pin(self.inner.call(req)),
            unread_body: had_body.then_some(read),
            tracker: self.tracker.clone(),
        }
    }
}

/// The answer to one request, finished with the headers every answer gets.
struct Answer<F> {
    inner: Pin<Box<F>>,
    /// Set while the request had a body: whether it was read to its end.
    unread_body: Option<Arc<AtomicBool>>,
    tracker: Arc<Tracker>,
}

impl<F, B, E> Future for Answer<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut answer = ready!(this.inner.as_mut().poll(cx));
        if let Ok(response) = &mut answer {
            let headers = response.headers_mut();
            if this
                .unread_body
                .as_ref()
                .is_some_and(|read| !read.load(Ordering::Relaxed))
            {
                // Answered before the body was read (401, 429, 413, ...): the rest of the body
                // is still on its way and must not be taken for the next request.
                headers.insert("connection", HeaderValue::from_static("close"));
            }
            headers
                .entry("x-content-type-options")
                .or_insert(HeaderValue::from_static("nosniff"));
            if response.status() != StatusCode::SWITCHING_PROTOCOLS {
                this.tracker.wait();
            }
        }
        Poll::Ready(answer)
    }
}

// ---------------------------------------------------------------------------------------------
// The socket, with its deadlines

/// A client's socket with two deadlines hyper does not keep: the first byte must arrive within
/// the header deadline (hyper's own header timer starts only once it has seen bytes), and a
/// write that makes no progress for `WRITE_STALL_TIMEOUT` fails.
struct GuardedStream {
    stream: tokio::net::TcpStream,
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Armed while a write waits for the client to read.
    write_stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl GuardedStream {
    fn new(stream: tokio::net::TcpStream, header_read_timeout: Duration) -> Self {
        GuardedStream {
            stream,
            first_byte: Some(Box::pin(tokio::time::sleep(header_read_timeout))),
            write_stall: None,
        }
    }

    /// After a write that could not proceed: Err once the stall has lasted too long.
    fn stalled(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        let timer = self
            .write_stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL_TIMEOUT)));
        if timer.as_mut().poll(cx).is_ready() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading the answer",
            ));
        }
        Ok(())
    }

    fn wrote<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.write_stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => match self.stalled(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }
}

impl tokio::io::AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.first_byte = None;
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                let expired = this
                    .first_byte
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client sent nothing before the header deadline",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl tokio::io::AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------
// Accepting

/// A warning written at most every 10 s, with how often its event happened meanwhile, so that a
/// flood cannot flood the log too.
struct Throttled {
    message: &'static str,
    count: u64,
    last: Option<Instant>,
}

impl Throttled {
    fn new(message: &'static str) -> Self {
        Throttled {
            message,
            count: 0,
            last: None,
        }
    }

    fn note(&mut self) {
        self.count += 1;
        if self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(times = self.count, "{}", self.message);
            self.count = 0;
            self.last = Some(Instant::now());
        }
    }
}

/// One open connection in `ConnectionMetrics::open`, taken off when dropped.
struct OpenConnection(Arc<ConnectionMetrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Closes the connection that has waited longest for a request (counted in `made_room`) and
/// takes its slot.
async fn make_room(
    waiting: &Mutex<Waiting>,
    permits: &Arc<Semaphore>,
    counted: &ConnectionMetrics,
) -> Option<OwnedSemaphorePermit> {
    if !lock(waiting).close_oldest() {
        return None;
    }
    counted.made_room.fetch_add(1, Ordering::Relaxed);
    tokio::time::timeout(ROOM_WAIT, permits.clone().acquire_owned())
        .await
        .ok()?
        .ok()
}

/// Serves `filter` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve<F, R>(
    filter: F,
    listener: TcpListener,
    limits: ConnectionLimits,
    counted: Arc<ConnectionMetrics>,
    shutdown: impl Future<Output = ()>,
) where
    F: Filter<Extract = (R,), Error = std::convert::Infallible> + Clone + Send + Sync + 'static,
    R: warp::Reply + Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    // Boxed: hyper clones the service for every request, and a clone of the whole filter tree
    // (each route holding its own handles) cost a third of the CPU of a small request; a boxed
    // filter is one shared `Arc`.
    let service = warp::service(filter.boxed());
    let max_connections = limits.max_connections.clamp(1, u32::MAX as usize);
    let permits = Arc::new(Semaphore::new(max_connections));
    let screens = ScreenSlots::new(limits.max_screens);
    let waiting = Arc::new(Mutex::new(Waiting::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let mut full = Throttled::new(
        "every connection slot was taken; closed the connections that waited longest for a request to make room (raise [server] max_connections and the open-file limit if this is normal load)",
    );
    let mut refused = Throttled::new(
        "every connection slot was taken by a request in progress; closed new connections at once",
    );
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => match make_room(&waiting, &permits, &counted).await {
                Some(p) => {
                    full.note();
                    p
                }
                None => {
                    refused.note();
                    counted.refused.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                }
            },
        };
        counted.accepted.fetch_add(1, Ordering::Relaxed);
        counted.open.fetch_add(1, Ordering::Relaxed);
        let open = OpenConnection(counted.clone());
        let _ = stream.set_nodelay(true);
        let server = stream
            .local_addr()
            .or_else(|_| listener.local_addr())
            .unwrap_or(addr);
        let tracker = Tracker::new(waiting.clone());
        let svc = hyper_util::service::TowerToHyperService::new(ConnectionService {
            inner: service.clone(),
            client: addr,
            server,
            screens: screens.clone(),
            tracker: tracker.clone(),
        });
        let io = TokioIo::new(GuardedStream::new(stream, limits.header_read_timeout));
        let conn = builder.serve_connection(io, svc).with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut closing = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = tracker.close.notified(), if !closing => {
                        if tracker.is_waiting() {
                            // Closed to make room: it has no request in progress.
                            break;
                        }
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    _ = stop.wait_for(|s| *s), if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
            drop(tracker);
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Each connection gives its slot back when it ends.
    let _ = permits.acquire_many(max_connections as u32).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_that_fit_are_kept() {
        let l = ConnectionLimits::default();
        assert_eq!(l.fit(1_048_576, 200), Ok(l));
        assert_eq!(l.fit(4096 + 2000 + 200, 200), Ok(l));
    }

    #[test]
    fn limits_are_cut_in_proportion_to_the_open_file_limit() {
        let l = ConnectionLimits::default();
        let fitted = l.fit(1024, 124).unwrap();
        assert_eq!(fitted.max_connections + fitted.max_screens, 900);
        assert_eq!(fitted.max_connections, 900 * 4096 / 6096);
        assert_eq!(fitted.header_read_timeout, l.header_read_timeout);
        let tiny = ConnectionLimits {
            max_connections: 1,
            max_screens: 100_000,
            ..l
        }
        .fit(140, 120)
        .unwrap();
        assert!(
            tiny.max_connections >= 1 && tiny.max_screens >= 1,
            "{tiny:?}"
        );
        assert!(tiny.max_connections + tiny.max_screens <= 20, "{tiny:?}");
    }

    #[test]
    fn a_limit_that_leaves_nothing_for_clients_says_what_to_do() {
        let e = ConnectionLimits::default().fit(100, 120).unwrap_err();
        assert!(e.contains("ulimit -n") && e.contains("LimitNOFILE"), "{e}");
    }

    #[test]
    fn the_longest_waiting_connection_is_closed_first_and_busy_ones_never() {
        let waiting = Arc::new(Mutex::new(Waiting::default()));
        let first = Tracker::new(waiting.clone());
        let second = Tracker::new(waiting.clone());
        let third = Tracker::new(waiting.clone());
        first.busy();
        // `first` serves a request; `second` has waited longest.
        assert!(lock(&waiting).close_oldest());
        assert_eq!(lock(&waiting).oldest_first.len(), 1);
        first.wait();
        // `third` now waited longer than `first`, which began to wait again.
        assert!(lock(&waiting).close_oldest());
        assert!(
            lock(&waiting)
                .oldest_first
                .contains_key(&first.key.load(Ordering::Relaxed))
        );
        drop(first);
        assert!(!lock(&waiting).close_oldest(), "nothing waits any more");
        drop((second, third));
    }
}
