//! One accept loop for every HTTP front door: connections (TCP, TLS, or any byte stream such as
//! a libp2p stream), HTTP/1.1 on each through hyper, Go's limits and timeouts, and shutdown.
//!
//! # What it owns
//! [`serve_tcp`] runs one [`axum::Router`] on one bound listener until its shutdown future
//! resolves; [`serve_streams`] does the same for connections that arrive as a stream of
//! already-established byte streams (REST over libp2p). Every connection is served by the same
//! code ([`drive`]): HTTP/1.1 with keep-alive, as Go's server; the request extensions carry
//! what the caller knows of the connection (a [`ConnInfo`], a libp2p peer id). With a
//! [`TlsAcceptor`] every TCP connection must start with a TLS handshake (`tls.rs`); plain HTTP
//! gets Go's 400 answer. On shutdown the listener closes, idle connections close, requests in
//! flight get [`SHUTDOWN_GRACE`] to finish, then their connections are dropped.
//!
//! # Limits and timeouts ([`ConnSettings`], Go's `net/http` meanings)
//! * `max_header_bytes` bounds the request line plus headers; beyond it hyper answers **431**
//!   and closes the connection. Go's server tolerates 4096 bytes more than the setting; this
//!   loop enforces the setting itself. A request may carry at most
//!   `clamp(max_header_bytes / 4, 100, 1024)` header lines (hyper needs a count). Without a
//!   setting ([`ConnSettings::hyper_defaults`]) hyper's own limits apply.
//! * `read_header_timeout`: time allowed from a request's first byte to the end of its head
//!   (a slow-loris defence), and on a new connection from the accept (or the end of the TLS
//!   handshake) to the end of the first head; also the limit on a TLS handshake.
//!   `idle_timeout`: how long a keep-alive connection may wait for its next request's first
//!   byte. As in Go, either one falls back to `read_timeout` when zero, and none applies when
//!   that is zero too. hyper on its own would start its header timer while the connection
//!   idles, closing idle connections after `read_header_timeout`; a per-connection clock (a
//!   `hyper::rt::Timer` fed by the socket's reads) gives each timeout its Go meaning instead.
//! * `read_timeout`: the request (head and body) must be read within it, counted from the
//!   request's first byte; `write_timeout`: the answer must be written within it, counted from
//!   the same instant (Go counts from the end of the head). A streaming answer that outlives
//!   `write_timeout` is cut, as in Go.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Extensions;
use futures::{Stream, StreamExt};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::tls;

/// How long requests in flight may run on after shutdown is asked.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the server knows of a connection, in every request's extensions: the remote socket
/// address (`None` for a connection that is not a socket, e.g. a libp2p stream) and whether
/// TLS protects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnInfo {
    pub remote: Option<SocketAddr>,
    pub tls: bool,
}

/// What every connection of one server needs to know (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct ConnSettings {
    /// The server's name in logs (`REST API`, `Kubo RPC API`).
    name: &'static str,
    header_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// `None`: hyper's own limits on the head.
    max_header_bytes: Option<usize>,
    max_headers: Option<usize>,
}

impl ConnSettings {
    fn any_timeout(&self) -> bool {
        self.header_timeout.is_some()
            || self.idle_timeout.is_some()
            || self.read_timeout.is_some()
            || self.write_timeout.is_some()
    }

    /// Go's `http.Server` settings: a zero timeout is none; the header and idle timeouts fall
    /// back to the read timeout.
    pub(crate) fn go(
        name: &'static str,
        read_header_timeout: Duration,
        idle_timeout: Duration,
        read_timeout: Duration,
        write_timeout: Duration,
        max_header_bytes: usize,
    ) -> ConnSettings {
        let nz = |d: Duration| (!d.is_zero()).then_some(d);
        let read = nz(read_timeout);
        ConnSettings {
            name,
            header_timeout: nz(read_header_timeout).or(read),
            idle_timeout: nz(idle_timeout).or(read),
            read_timeout: read,
            write_timeout: nz(write_timeout),
            max_header_bytes: Some(max_header_bytes.max(1)),
            max_headers: Some((max_header_bytes / 4).clamp(100, 1024)),
        }
    }

    /// No timeout, and hyper's default limits on the head (oversized heads get 431).
    pub(crate) fn hyper_defaults(name: &'static str) -> ConnSettings {
        ConnSettings {
            name,
            header_timeout: None,
            idle_timeout: None,
            read_timeout: None,
            write_timeout: None,
            max_header_bytes: None,
            max_headers: None,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves (see the module docs); with `tls`,
/// every connection must open with a TLS handshake.
pub(crate) async fn serve_tcp(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    settings: Arc<ConnSettings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    conns.spawn(connection(
                        tcp,
                        remote,
                        app.clone(),
                        tls.clone(),
                        settings.clone(),
                        stop_rx.clone(),
                    ));
                }
                Err(e) => {
                    // EMFILE and friends: wait a little instead of spinning.
                    tracing::warn!("{}: accepting a connection failed: {e}", settings.name);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drain(conns, settings.name, "connection(s)").await;
}

/// Serves `app` on every connection `incoming` yields (a byte stream and the extensions its
/// requests carry) until `shutdown` resolves or `incoming` ends; then drains as [`serve_tcp`].
pub(crate) async fn serve_streams<S, I>(
    incoming: S,
    app: Router,
    settings: Arc<ConnSettings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: Stream<Item = (I, Extensions)>,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Boxed so that dropping it (which stops accepting) can come before the drain.
    let mut incoming = Box::pin(incoming);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            next = incoming.next() => match next {
                Some((io, extensions)) => {
                    conns.spawn(drive(
                        io,
                        extensions,
                        app.clone(),
                        settings.clone(),
                        stop_rx.clone(),
                    ));
                }
                None => break,
            }
        }
    }
    drop(incoming);
    let _ = stop_tx.send(true);
    drain(conns, settings.name, "stream(s)").await;
}

/// After a stop: gives the open connections [`SHUTDOWN_GRACE`] to finish, then closes the
/// rest.
async fn drain(mut conns: JoinSet<()>, server: &str, what: &str) {
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            "{server}: {} {what} still busy after {SHUTDOWN_GRACE:?}; closing them",
            conns.len()
        );
    }
    conns.abort_all();
}

async fn connection(
    tcp: TcpStream,
    remote: SocketAddr,
    app: Router,
    tls: Option<TlsAcceptor>,
    settings: Arc<ConnSettings>,
    stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let mut extensions = Extensions::new();
    extensions.insert(ConnInfo {
        remote: Some(remote),
        tls: tls.is_some(),
    });
    let Some(acceptor) = tls else {
        return drive(tcp, extensions, app, settings, stop).await;
    };
    let handshake_limit = settings.header_timeout.unwrap_or(Duration::from_secs(3600));
    let handshake = async {
        if !tls_handshake_starts(&tcp).await {
            return None;
        }
        match acceptor.accept(tcp).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::debug!("{}: TLS handshake with {remote} failed: {e}", settings.name);
                None
            }
        }
    };
    if let Ok(Some(stream)) = tokio::time::timeout(handshake_limit, handshake).await {
        drive(stream, extensions, app, settings, stop).await;
    }
}

/// Peeks at the first bytes: true for a TLS handshake; plain HTTP gets Go's 400 answer.
async fn tls_handshake_starts(tcp: &TcpStream) -> bool {
    let mut buf = [0u8; 5];
    for _ in 0..20 {
        let n = match tcp.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if tls::is_tls_handshake(&buf[..n]) {
            return true;
        }
        if n == buf.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if tls::looks_like_http(&buf) {
        // Best effort: the connection is dropped right after.
        let _ = write_all(tcp, tls::PLAIN_HTTP_ANSWER).await;
    }
    false
}

async fn write_all(tcp: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        tcp.writable().await?;
        match tcp.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Serves HTTP/1.1 on one established connection (a TCP or TLS socket, or a libp2p stream);
/// every request gets a copy of `extensions`.
async fn drive<I>(
    io: I,
    extensions: Extensions,
    app: Router,
    settings: Arc<ConnSettings>,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let clock = Arc::new(ConnClock::new(&settings));
    let io = TokioIo::new(TimedIo::new(io, clock.clone()));
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().extend(extensions.clone());
        let mut app = app.clone();
        async move { app.call(req.map(Body::new)).await }
    });
    let mut builder = http1::Builder::new();
    builder.keep_alive(true);
    if let Some(bytes) = settings.max_header_bytes {
        builder.max_header_size(bytes);
    }
    if let Some(lines) = settings.max_headers {
        builder.max_headers(lines);
    }
    if settings.any_timeout() {
        // The clock needs hyper's "waiting for a request head" signal whenever any deadline
        // applies (it resets the read and write deadlines between requests). The duration is
        // ignored: the clock applies the configured ones.
        builder
            .timer(ConnTimer(clock))
            .header_read_timeout(Duration::from_secs(1));
    } else {
        builder.header_read_timeout(None);
    }
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!("{} connection: {e}", settings.name);
            }
        }
        _ = async { drop(stop.wait_for(|s| *s).await) } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-connection clock: Go's idle, header, read and write deadlines on top of hyper.

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// hyper waits for a request head and no byte of it has come yet (idle).
    Waiting { since: Instant },
    /// The first byte of a request came at this instant.
    Request { first_byte: Instant },
}

#[derive(Debug)]
struct ClockState {
    /// No request has started yet: the first wait is not idle time (see `begin_wait`).
    fresh: bool,
    phase: Phase,
    read_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
}

/// Shared by a connection's socket wrapper ([`TimedIo`]) and hyper's timer ([`ConnTimer`]).
#[derive(Debug)]
struct ConnClock {
    header_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    state: Mutex<ClockState>,
}

impl ConnClock {
    fn new(s: &ConnSettings) -> ConnClock {
        ConnClock {
            header_timeout: s.header_timeout,
            idle_timeout: s.idle_timeout,
            read_timeout: s.read_timeout,
            write_timeout: s.write_timeout,
            state: Mutex::new(ClockState {
                fresh: true,
                phase: Phase::Waiting {
                    since: Instant::now(),
                },
                read_deadline: None,
                write_deadline: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// hyper starts waiting for a request head: the previous request's deadlines end. On a
    /// new connection the request counts as started already, as in Go (whose first
    /// `ReadHeaderTimeout` runs from the accept, not after an idle period): a client that
    /// connects and says nothing is cut after the header timeout.
    fn begin_wait(&self) {
        let mut s = self.lock();
        let now = Instant::now();
        if std::mem::take(&mut s.fresh) {
            self.start_request(&mut s, now);
            return;
        }
        s.phase = Phase::Waiting { since: now };
        s.read_deadline = None;
        s.write_deadline = None;
    }

    fn start_request(&self, s: &mut ClockState, now: Instant) {
        s.phase = Phase::Request { first_byte: now };
        s.read_deadline = self.read_timeout.map(|d| now + d);
        s.write_deadline = self.write_timeout.map(|d| now + d);
    }

    /// Bytes came in: the first ones after [`ConnClock::begin_wait`] start a request.
    fn on_read(&self) {
        let mut s = self.lock();
        if let Phase::Waiting { .. } = s.phase {
            self.start_request(&mut s, Instant::now());
        }
    }

    /// When the header timer fires in the current phase (`None`: never).
    fn head_deadline(&self) -> Option<Instant> {
        match self.lock().phase {
            Phase::Waiting { since } => self.idle_timeout.map(|d| since + d),
            Phase::Request { first_byte } => self.header_timeout.map(|d| first_byte + d),
        }
    }
}

/// hyper's timer for one connection: every sleep it asks for is the header timer, which the
/// clock turns into "idle timeout, then header timeout from the first byte".
#[derive(Debug, Clone)]
struct ConnTimer(Arc<ConnClock>);

impl hyper::rt::Timer for ConnTimer {
    fn sleep(&self, _duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.0.begin_wait();
        Box::pin(HeadSleep::new(self.0.clone()))
    }

    fn sleep_until(&self, _deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.0.begin_wait();
        Box::pin(HeadSleep::new(self.0.clone()))
    }
}

/// The header timer (see [`ConnTimer`]).
struct HeadSleep {
    clock: Arc<ConnClock>,
    sleep: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl HeadSleep {
    fn new(clock: Arc<ConnClock>) -> HeadSleep {
        HeadSleep {
            clock,
            sleep: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            armed_for: None,
        }
    }
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.clock.head_deadline() else {
            // No timeout in this phase; a read that changes the phase wakes the connection.
            return Poll::Pending;
        };
        if self.armed_for != Some(deadline) {
            self.sleep.as_mut().reset(deadline);
            self.armed_for = Some(deadline);
        }
        self.sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HeadSleep {}

/// A socket that reports reads to the clock and enforces the read and write deadlines.
struct TimedIo<I> {
    inner: I,
    clock: Arc<ConnClock>,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
}

impl<I> TimedIo<I> {
    fn new(inner: I, clock: Arc<ConnClock>) -> TimedIo<I> {
        let far = || Box::pin(tokio::time::sleep(Duration::from_secs(3600)));
        TimedIo {
            inner,
            clock,
            read_timer: far(),
            write_timer: far(),
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timeout"))
}

/// Polls `timer` towards `deadline`: true once it has passed.
fn deadline_passed(timer: &mut Pin<Box<Sleep>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    if Instant::now() >= deadline {
        return true;
    }
    if timer.deadline() != deadline {
        timer.as_mut().reset(deadline);
    }
    timer.as_mut().poll(cx).is_ready()
}

impl<I: AsyncRead + Unpin> AsyncRead for TimedIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.on_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let deadline = this.clock.lock().read_deadline;
                match deadline {
                    Some(d) if deadline_passed(&mut this.read_timer, d, cx) => {
                        Poll::Ready(Err(timed_out("read")))
                    }
                    _ => Poll::Pending,
                }
            }
            other => other,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for TimedIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let deadline = this.clock.lock().write_deadline;
        if let Some(d) = deadline
            && deadline_passed(&mut this.write_timer, d, cx)
        {
            return Poll::Ready(Err(timed_out("write")));
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let deadline = this.clock.lock().write_deadline;
        if let Some(d) = deadline
            && deadline_passed(&mut this.write_timer, d, cx)
        {
            return Poll::Ready(Err(timed_out("write")));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
