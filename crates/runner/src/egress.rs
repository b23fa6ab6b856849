//! Outbound HTTP for flows, confined to ALLOWED_NETWORKS: the connector
//! checks the address it is about to dial (after resolution, so DNS rebinding
//! cannot pass), every redirect hop goes back through it, and hosts written
//! as odd IPv4 forms or IPv4-mapped IPv6 are judged by the address they mean.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{AUTHORIZATION, COOKIE, LOCATION, PROXY_AUTHORIZATION};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// An IP network in CIDR notation, e.g. `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` lies in this network (IPv4 and IPv6 never match each
    /// other; callers canonicalise mapped addresses first).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s.split_once('/').ok_or("expected a CIDR such as 10.0.0.0/8")?;
        // Only canonical dotted quads here: an allowlist is written by an
        // operator, and `010.0.0.0/8` meaning 8.0.0.0 would be a trap.
        let addr: IpAddr = addr.parse().map_err(|_| format!("`{addr}` is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 =
            prefix.parse().ok().filter(|p| *p <= max).ok_or(format!("prefix length must be 0 to {max}"))?;
        // `::ffff:10.0.0.0/104` is written for mapped addresses, which are
        // judged as IPv4: keep the network in the form they are checked in.
        Ok(match canonical(addr) {
            IpAddr::V4(v4) if addr.is_ipv6() && prefix >= 96 => IpNet { addr: IpAddr::V4(v4), prefix: prefix - 96 },
            _ => IpNet { addr, prefix },
        })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The address a connection to `ip` really reaches: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::/96`)
/// IPv6 addresses are judged as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u128::from(v6);
            let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
            let nat64 = bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000;
            // `::` and `::1` are IPv6's own unspecified and loopback.
            let compat = bits >> 32 == 0 && bits > 1;
            if nat64 || compat {
                IpAddr::V4(low)
            } else {
                ip
            }
        }
    }
}

/// Why an address may never be dialled, whatever ALLOWED_NETWORKS says.
fn always_denied(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if o[0] == 0 {
                // Linux routes 0.0.0.0 to the local host.
                Some("an unspecified address (0.0.0.0/8), which reaches the local host")
            } else if o[0] == 169 && o[1] == 254 {
                Some("link-local (169.254.0.0/16), where cloud metadata services live")
            } else if o == [100, 100, 100, 200] {
                Some("a cloud metadata service")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("broadcast or multicast")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            if v6.is_unspecified() {
                Some("the unspecified address (::), which reaches the local host")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("link-local (fe80::/10)")
            } else if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata service")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// The networks flows may reach.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    nets: Vec<IpNet>,
}

impl Allowlist {
    /// An allowlist of `nets`; empty denies everything.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Allowlist { nets }
    }

    /// Ok when a connection to `ip` is allowed, else why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        let real = canonical(ip);
        let shown = if real == ip { ip.to_string() } else { format!("{ip} (that is, {real})") };
        if let Some(why) = always_denied(real) {
            return Err(format!("{shown} is {why}; never allowed"));
        }
        if self.nets.iter().any(|n| n.contains(real)) {
            Ok(())
        } else if self.nets.is_empty() {
            Err(format!("{shown} is not allowed: ALLOWED_NETWORKS is empty"))
        } else {
            let list = self.nets.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            Err(format!("{shown} is not in ALLOWED_NETWORKS ({list})"))
        }
    }
}

/// A URL host, as the connector understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An address literal, in whatever form it was written.
    Ip(IpAddr),
    /// A name to resolve.
    Name(String),
}

/// Classifies a URL host. A host whose last label is numeric is an IPv4
/// address in one of the forms `inet_aton` and browsers accept
/// (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`), never a name: resolvers
/// would read it that way too, so reading it ourselves keeps the decision
/// here rather than in libc.
pub fn parse_host(host: &str) -> Result<Host, EgressError> {
    let bad = || EgressError::InvalidHost(host.to_owned());
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // Zone ids (`fe80::1%eth0`) are refused: they pick an interface.
        return inner.parse::<Ipv6Addr>().map(|ip| Host::Ip(IpAddr::V6(ip))).map_err(|_| bad());
    }
    if let Ok(ip) = host.parse::<Ipv6Addr>() {
        return Ok(Host::Ip(IpAddr::V6(ip)));
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name.is_empty() {
        return Err(bad());
    }
    let last = name.rsplit('.').next().unwrap_or("");
    let numeric = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit())));
    if numeric {
        return parse_ipv4_lenient(&name).map(|ip| Host::Ip(IpAddr::V4(ip))).ok_or_else(bad);
    }
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_') {
        Ok(Host::Name(name))
    } else {
        Err(bad())
    }
}

/// IPv4 in the WHATWG / `inet_aton` forms: one to four parts, each decimal,
/// octal (leading 0) or hex (0x); the last part fills the remaining bytes.
pub fn parse_ipv4_lenient(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for p in &parts {
        let n = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if hex.is_empty() {
                0
            } else {
                u64::from_str_radix(hex, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        numbers.push(n);
    }
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|n| *n > 255) || *last >= 1u64 << (8 * (5 - numbers.len())) {
        return None;
    }
    let mut value = *last;
    for (i, n) in init.iter().enumerate() {
        value += n << (8 * (3 - i));
    }
    Some(Ipv4Addr::from(value as u32))
}

/// Resolves host names to addresses; injectable so tests can map names
/// without DNS.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`.
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

/// The system resolver (getaddrinfo on a blocking thread, via tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), port)).await?.map(|a| a.ip()).collect()) })
    }
}

/// A fixed name → addresses table; unknown names fail to resolve.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// Adds `name` resolving to `addrs`.
    pub fn with(mut self, name: &str, addrs: &[IpAddr]) -> Self {
        self.names.insert(name.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, host: &str, _port: u16) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let found = self.names.get(host).cloned();
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no address for `{host}`")))
        })
    }
}

/// Why an outbound connection was not made.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// The address is outside the allowlist or always denied.
    #[error("egress denied for `{host}`: {reason}")]
    Denied {
        /// The host as written in the URL.
        host: String,
        /// Which address and why.
        reason: String,
    },
    /// The URL's host is neither a name nor an address.
    #[error("egress denied: `{0}` is not a valid host")]
    InvalidHost(String),
    /// Only http and https leave the runner.
    #[error("egress denied: scheme `{0}` is not allowed (only http and https)")]
    Scheme(String),
    /// The name did not resolve.
    #[error("could not resolve `{host}`")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// Every allowed address refused or timed out.
    #[error("could not connect to {addr}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with `{host}` failed")]
    Tls {
        /// The server name.
        host: String,
        /// The TLS error.
        #[source]
        source: io::Error,
    },
}

/// A connection to an allowed address, plain or TLS.
pub enum EgressStream {
    /// http://
    Plain(TcpStream),
    /// https://
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection for EgressStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for EgressStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            EgressStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            EgressStream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for EgressStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            EgressStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            EgressStream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    // Vectored writes let hyper send a request's head and body in one
    // `writev` instead of first copying them into one buffer.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            EgressStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            EgressStream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            EgressStream::Plain(s) => s.is_write_vectored(),
            EgressStream::Tls(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            EgressStream::Plain(s) => Pin::new(s).poll_flush(cx),
            EgressStream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            EgressStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            EgressStream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The connector under the HTTP client: resolves, checks every address
/// against the allowlist, and dials only allowed ones.
///
/// The HTTP client clones its connector for every request, even one served
/// by a pooled connection, so the connector is a single `Arc`.
#[derive(Clone)]
pub struct GuardedConnector {
    inner: Arc<ConnectorParts>,
}

struct ConnectorParts {
    resolver: Arc<dyn Resolve>,
    allowlist: Allowlist,
    tls: OnceLock<Arc<rustls::ClientConfig>>,
}

impl GuardedConnector {
    /// A connector checking `allowlist`, resolving names with `resolver`.
    pub fn new(allowlist: Allowlist, resolver: Arc<dyn Resolve>) -> Self {
        GuardedConnector { inner: Arc::new(ConnectorParts { resolver, allowlist, tls: OnceLock::new() }) }
    }

    /// The addresses of `uri`'s host that may be dialled, or why none may.
    pub async fn allowed_addrs(&self, uri: &Uri) -> Result<Vec<SocketAddr>, EgressError> {
        let scheme = uri.scheme_str().unwrap_or("");
        if scheme != "http" && scheme != "https" {
            return Err(EgressError::Scheme(scheme.to_owned()));
        }
        let host = uri.host().ok_or_else(|| EgressError::InvalidHost(String::new()))?;
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        let candidates = match parse_host(host)? {
            Host::Ip(ip) => vec![ip],
            Host::Name(name) => self
                .inner
                .resolver
                .resolve(&name, port)
                .await
                .map_err(|source| EgressError::Resolve { host: name.clone(), source })?,
        };
        let mut allowed = Vec::new();
        let mut first_denial = None;
        for ip in candidates {
            match self.inner.allowlist.check(ip) {
                Ok(()) => allowed.push(SocketAddr::new(canonical(ip), port)),
                Err(reason) => {
                    first_denial.get_or_insert(reason);
                }
            }
        }
        if allowed.is_empty() {
            let reason = first_denial.unwrap_or_else(|| "the name resolved to no address".to_owned());
            return Err(EgressError::Denied { host: host.to_owned(), reason });
        }
        Ok(allowed)
    }

    async fn connect(self, uri: Uri) -> Result<EgressStream, EgressError> {
        let addrs = self.allowed_addrs(&uri).await?;
        let mut last_err = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(source) => last_err = Some(EgressError::Connect { addr, source }),
            }
        }
        let Some(tcp) = tcp else {
            return Err(last_err.expect("at least one address was tried"));
        };
        let _ = tcp.set_nodelay(true);
        if uri.scheme_str() != Some("https") {
            return Ok(EgressStream::Plain(tcp));
        }
        let host = uri.host().unwrap_or_default();
        let tls_err = |source| EgressError::Tls { host: host.to_owned(), source };
        let name = match parse_host(host)? {
            Host::Ip(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
            Host::Name(n) => rustls::pki_types::ServerName::try_from(n)
                .map_err(|e| tls_err(io::Error::new(io::ErrorKind::InvalidInput, e)))?,
        };
        let config = self.inner.tls.get_or_init(tls_config).clone();
        let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(tls_err)?;
        Ok(EgressStream::Tls(Box::new(stream)))
    }
}

/// TLS 1.2/1.3 with ring, trusting the system's roots (where a private CA
/// of the customer's network is installed). Built on first use: reading the
/// system store costs tens of milliseconds.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "could not read part of the system certificate store");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no trusted root certificates found: https steps will fail verification");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<EgressStream>;
    type Error = EgressError;
    type Future = BoxFuture<'static, Result<Self::Response, EgressError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), EgressError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(uri).await.map(TokioIo::new) })
    }
}

/// One outbound request of a step.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Method.
    pub method: Method,
    /// Absolute http(s) URL.
    pub url: String,
    /// Headers to send.
    pub headers: HeaderMap,
    /// Body to send (empty for none).
    pub body: Bytes,
}

/// The final response after redirects.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// Status of the last hop.
    pub status: StatusCode,
    /// Headers of the last hop.
    pub headers: HeaderMap,
    /// Body of the last hop, at most the configured cap.
    pub body: Bytes,
    /// URL of the last hop.
    pub url: String,
    /// Redirects followed.
    pub redirects: u32,
}

/// Why a step's request produced no response.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The connection was refused by the allowlist (or failed to open).
    #[error(transparent)]
    Egress(#[from] EgressError),
    /// The URL is not an absolute http(s) URL.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// More redirects than allowed.
    #[error("stopped after {0} redirects")]
    TooManyRedirects(u32),
    /// The response body is larger than MAX_RESPONSE_BODY.
    #[error("response body exceeds MAX_RESPONSE_BODY ({0} bytes)")]
    BodyTooLarge(usize),
    /// Any other transport failure.
    #[error("request failed: {0}")]
    Transport(String),
}

/// The HTTP client flows use: pooled HTTP/1.1 over the guarded connector,
/// following redirects itself so that each hop is checked.
#[derive(Clone)]
pub struct EgressClient {
    client: Client<GuardedConnector, Full<Bytes>>,
    max_response_body: usize,
    max_redirects: u32,
}

impl EgressClient {
    /// A client over `connector`, reading at most `max_response_body` bytes
    /// of each response.
    pub fn new(connector: GuardedConnector, max_response_body: usize) -> Self {
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector);
        EgressClient { client, max_response_body, max_redirects: 10 }
    }

    /// Sends `req`, following up to ten redirects, each one checked again.
    pub async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, RequestError> {
        let mut method = req.method;
        let mut url = req.url;
        let mut headers = req.headers;
        let mut body = req.body;
        let mut redirects = 0;
        loop {
            let uri = parse_url(&url)?;
            let mut request = Request::new(Full::new(body.clone()));
            *request.method_mut() = method.clone();
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = headers.clone();
            let response = self.client.request(request).await.map_err(transport_error)?;
            let status = response.status();
            let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if let Some(location) = location {
                    if redirects >= self.max_redirects {
                        return Err(RequestError::TooManyRedirects(redirects));
                    }
                    redirects += 1;
                    let next = join_url(&uri, &location);
                    let next_uri = parse_url(&next)?;
                    // Credentials go only to the origin they were written for.
                    if next_uri.authority() != uri.authority() || next_uri.scheme() != uri.scheme() {
                        for h in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
                            headers.remove(h);
                        }
                    }
                    // 303, and 301/302 after a POST, become a GET without a body,
                    // as browsers and curl do.
                    if status == StatusCode::SEE_OTHER
                        || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                            && method == Method::POST)
                    {
                        if method != Method::HEAD {
                            method = Method::GET;
                        }
                        body = Bytes::new();
                        headers.remove(http::header::CONTENT_TYPE);
                        headers.remove(http::header::CONTENT_LENGTH);
                    }
                    url = next;
                    // Drain this hop's body so the connection can be reused.
                    let _ = Limited::new(response.into_body(), self.max_response_body).collect().await;
                    continue;
                }
            }
            let (parts, incoming) = response.into_parts();
            let body = Limited::new(incoming, self.max_response_body).collect().await.map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    RequestError::BodyTooLarge(self.max_response_body)
                } else {
                    RequestError::Transport(e.to_string())
                }
            })?;
            return Ok(OutboundResponse {
                status: parts.status,
                headers: parts.headers,
                body: body.to_bytes(),
                url,
                redirects,
            });
        }
    }
}

fn parse_url(url: &str) -> Result<Uri, RequestError> {
    let invalid = |reason: &str| RequestError::InvalidUrl { url: url.to_owned(), reason: reason.to_owned() };
    // Name a refused scheme even when `http::Uri` cannot parse the rest
    // (`file:///etc/passwd` has no authority).
    if let Some((scheme, _)) = url.split_once(':') {
        let looks_like_scheme =
            !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        let allowed = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        if looks_like_scheme && !allowed && url[scheme.len()..].starts_with("://") {
            return Err(EgressError::Scheme(scheme.to_ascii_lowercase()).into());
        }
    }
    let uri: Uri = url.parse().map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(EgressError::Scheme(other.to_owned()).into()),
        None => return Err(invalid("expected an absolute http:// or https:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(invalid("credentials in the URL are not supported; use an Authorization header"));
    }
    Ok(uri)
}

/// Resolves a Location header against the URL it came from.
fn join_url(base: &Uri, location: &str) -> String {
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    if location.contains("://") {
        location.to_owned()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{scheme}://{authority}{dir}{location}")
    }
}

/// Surfaces the connector's own error (an egress denial reads better than
/// "client error (Connect)").
fn transport_error(err: hyper_util::client::legacy::Error) -> RequestError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(e) = source {
        if let Some(egress) = e.downcast_ref::<EgressError>() {
            let rebuilt = match egress {
                EgressError::Denied { host, reason } => {
                    EgressError::Denied { host: host.clone(), reason: reason.clone() }
                }
                EgressError::InvalidHost(h) => EgressError::InvalidHost(h.clone()),
                EgressError::Scheme(s) => EgressError::Scheme(s.clone()),
                other => return RequestError::Transport(error_chain(other)),
            };
            return RequestError::Egress(rebuilt);
        }
        source = e.source();
    }
    RequestError::Transport(error_chain(&err))
}

/// An error and its causes on one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    #[test]
    fn odd_ipv4_forms_mean_loopback() {
        for host in
            ["2130706433", "0177.0.0.1", "127.1", "0x7f.1", "0x7f000001", "127.0.0.1.", "017700000001", "127.0.1"]
        {
            assert_eq!(parse_host(host).unwrap(), Host::Ip(v4("127.0.0.1")), "{host}");
        }
        assert_eq!(parse_host("0").unwrap(), Host::Ip(v4("0.0.0.0")));
        for host in ["256.0.0.1", "1.2.3.4.5", "4294967296", "08.0.0.1", "a.1", ""] {
            assert!(parse_host(host).is_err(), "{host}");
        }
        assert_eq!(parse_host("Example.COM.").unwrap(), Host::Name("example.com".into()));
        assert_eq!(parse_host("1.example").unwrap(), Host::Name("1.example".into()));
    }

    #[test]
    fn mapped_addresses_are_judged_as_ipv4() {
        let list = Allowlist::new(vec!["10.0.0.0/8".parse().unwrap()]);
        for ip in ["::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::7f00:1", "::127.0.0.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let err = list.check(ip).unwrap_err();
            assert!(err.contains("127.0.0.1"), "{err}");
        }
        assert!(list.check("::ffff:10.1.2.3".parse().unwrap()).is_ok());
        assert!(list.check(v4("10.255.0.1")).is_ok());
        assert!(list.check(v4("11.0.0.1")).is_err());
    }

    #[test]
    fn unspecified_and_metadata_are_never_allowed() {
        let everything = Allowlist::new(vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]);
        for ip in [
            "0.0.0.0",
            "169.254.169.254",
            "::",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "fe80::1",
            "100.100.100.200",
        ] {
            let err = everything.check(ip.parse().unwrap()).unwrap_err();
            assert!(err.contains("never allowed"), "{ip}: {err}");
        }
        assert!(everything.check(v4("93.184.216.34")).is_ok());
    }

    #[test]
    fn cidrs() {
        let n: IpNet = "192.168.0.0/16".parse().unwrap();
        assert!(n.contains(v4("192.168.7.7")));
        assert!(!n.contains(v4("192.169.0.0")));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("010.0.0.0/8".parse::<IpNet>().is_err());
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(v4("8.8.8.8")));
    }

    #[test]
    fn redirect_targets() {
        let base: Uri = "http://a.test:8080/x/y?q=1".parse().unwrap();
        assert_eq!(join_url(&base, "/z"), "http://a.test:8080/z");
        assert_eq!(join_url(&base, "z"), "http://a.test:8080/x/z");
        assert_eq!(join_url(&base, "//b.test/"), "http://b.test/");
        assert_eq!(join_url(&base, "https://c.test/"), "https://c.test/");
    }
}
