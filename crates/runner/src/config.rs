//! The runner's configuration, read from environment variables as the chart
//! passes them, with every problem reported against the variable's name.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::egress::IpNet;

/// A configuration variable that is present but unusable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable, e.g. `WORKER_CONCURRENCY`.
    pub variable: &'static str,
    /// Its value as given.
    pub value: String,
    /// What is expected instead.
    pub reason: String,
}

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`BIND_ADDRESS`, default `0.0.0.0`).
    pub bind_address: IpAddr,
    /// Port to listen on (`PORT`, default 8080; 0 picks a free port).
    pub port: u16,
    /// Runs executed at once (`WORKER_CONCURRENCY`, default 4).
    pub worker_concurrency: usize,
    /// Runs that may wait for a worker before new ones get 429
    /// (`RUN_QUEUE_SIZE`, default 4 × `WORKER_CONCURRENCY`).
    pub queue_size: usize,
    /// Longest a run may take (`MAX_EXECUTION_TIME`: seconds, or a duration
    /// such as `30m` or `1h30m` as the chart's values write it; default 30m).
    pub max_execution_time: Duration,
    /// Networks flows may connect to (`ALLOWED_NETWORKS`, comma-separated
    /// CIDRs; default empty, which denies every outbound connection).
    pub allowed_networks: Vec<IpNet>,
    /// Base URL of the API gateway (`API_GATEWAY_URL`, optional). Flows see
    /// it as `${env.API_GATEWAY_URL}`.
    pub api_gateway_url: Option<String>,
    /// Directory of flow files (`FLOWS_DIR`, default `flows`).
    pub flows_dir: PathBuf,
    /// Whether `FLOWS_DIR` was set: a missing default directory means "no
    /// flows", a missing configured one is an error.
    pub flows_dir_explicit: bool,
    /// Directory of golden snapshot sets (`SNAPSHOT_DIR`).
    pub snapshot_dir: PathBuf,
    /// Directory run reports are kept in (`REPORTS_DIR`): one JSON line per
    /// run in a file per hour, `runs-YYYY-MM-DDTHH.jsonl` (UTC); see
    /// [`crate::reports`].
    pub reports_dir: PathBuf,
    /// How long in-flight runs may take to finish after SIGTERM
    /// (`SHUTDOWN_TIMEOUT`, default 25s, inside the chart's 60s grace period).
    pub shutdown_timeout: Duration,
    /// Largest request body the API accepts (`MAX_REQUEST_BODY`, bytes,
    /// default 1 MiB); also the cap on a step's outgoing body.
    pub max_request_body: usize,
    /// Largest upstream response body a step reads (`MAX_RESPONSE_BODY`,
    /// bytes, default 8 MiB).
    pub max_response_body: usize,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the
    /// process environment. Empty values count as unset, because the chart
    /// renders an optional value as `""`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let bind_address = parse_or(&get, "BIND_ADDRESS", IpAddr::from([0, 0, 0, 0]), |v| {
            v.parse().map_err(|_| "expected an IP address such as 0.0.0.0 or 127.0.0.1".to_owned())
        })?;
        let port = parse_or(&get, "PORT", 8080, |v| {
            v.parse::<u16>().map_err(|_| "expected a port number from 0 to 65535".to_owned())
        })?;
        let worker_concurrency = parse_or(&get, "WORKER_CONCURRENCY", 4, |v| match v.parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err("expected a whole number from 1 to 1024".to_owned()),
        })?;
        let queue_size = parse_or(&get, "RUN_QUEUE_SIZE", worker_concurrency * 4, |v| {
            v.parse::<usize>().map_err(|_| "expected a whole number (0 disables queueing)".to_owned())
        })?;
        let max_execution_time =
            parse_or(&get, "MAX_EXECUTION_TIME", Duration::from_secs(1800), |v| match parse_duration(v) {
                Some(d) if !d.is_zero() => Ok(d),
                _ => Err("expected seconds (e.g. 1800) or a duration such as 30m, 90s or 1h30m, above zero".to_owned()),
            })?;
        let allowed_networks = parse_or(&get, "ALLOWED_NETWORKS", Vec::new(), |v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<IpNet>().map_err(|e| format!("`{s}`: {e}")))
                .collect()
        })?;
        let api_gateway_url = match get("API_GATEWAY_URL") {
            None => None,
            Some(v) => {
                let uri: http::Uri = v
                    .parse()
                    .map_err(|_| invalid("API_GATEWAY_URL", &v, "expected an absolute http:// or https:// URL"))?;
                if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                    return Err(invalid("API_GATEWAY_URL", &v, "expected an absolute http:// or https:// URL"));
                }
                Some(v.trim_end_matches('/').to_owned())
            }
        };
        let flows_dir_explicit = get("FLOWS_DIR").is_some();
        let flows_dir = get("FLOWS_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("flows"));
        // Local runs (`cargo run -p runner`) get scratch directories; the
        // chart always sets both to its persistent volumes.
        let scratch = std::env::temp_dir().join("testmesh-runner");
        let snapshot_dir = get("SNAPSHOT_DIR").map(PathBuf::from).unwrap_or_else(|| scratch.join("snapshots"));
        let reports_dir = get("REPORTS_DIR").map(PathBuf::from).unwrap_or_else(|| scratch.join("reports"));
        let shutdown_timeout = parse_or(&get, "SHUTDOWN_TIMEOUT", Duration::from_secs(25), |v| {
            parse_duration(v).ok_or_else(|| "expected seconds or a duration such as 25s".to_owned())
        })?;
        let bytes = |v: &str| match v.parse::<usize>() {
            Ok(n) if n >= 1024 => Ok(n),
            _ => Err("expected a number of bytes, at least 1024".to_owned()),
        };
        let max_request_body = parse_or(&get, "MAX_REQUEST_BODY", 1 << 20, bytes)?;
        let max_response_body = parse_or(&get, "MAX_RESPONSE_BODY", 8 << 20, bytes)?;
        Ok(Config {
            bind_address,
            port,
            worker_concurrency,
            queue_size,
            max_execution_time,
            allowed_networks,
            api_gateway_url,
            flows_dir,
            flows_dir_explicit,
            snapshot_dir,
            reports_dir,
            shutdown_timeout,
            max_request_body,
            max_response_body,
        })
    }

    /// A configuration for tests and embedding: loopback only, small limits,
    /// everything under `dir`.
    pub fn for_dir(dir: &std::path::Path) -> Self {
        Config {
            bind_address: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            worker_concurrency: 4,
            queue_size: 16,
            max_execution_time: Duration::from_secs(60),
            allowed_networks: vec!["127.0.0.0/8".parse().expect("valid CIDR")],
            api_gateway_url: None,
            flows_dir: dir.join("flows"),
            flows_dir_explicit: false,
            snapshot_dir: dir.join("snapshots"),
            reports_dir: dir.join("reports"),
            shutdown_timeout: Duration::from_secs(25),
            max_request_body: 1 << 20,
            max_response_body: 8 << 20,
        }
    }
}

fn invalid(variable: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError { variable, value: value.to_owned(), reason: reason.to_owned() }
}

fn parse_or<T>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match get(variable) {
        None => Ok(default),
        Some(v) => parse(v.trim()).map_err(|reason| ConfigError { variable, value: v, reason }),
    }
}

/// Parses plain seconds (`1800`) or Go-style units (`30m`, `1h30m`, `500ms`),
/// the form the chart's values schema allows for durations.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_start_a_local_runner() {
        let c = load(&[]).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.worker_concurrency, 4);
        assert_eq!(c.queue_size, 16);
        assert_eq!(c.max_execution_time, Duration::from_secs(1800));
        assert!(c.allowed_networks.is_empty());
        assert!(!c.flows_dir_explicit);
    }

    #[test]
    fn chart_values_parse() {
        let c = load(&[
            ("PORT", "8080"),
            ("WORKER_CONCURRENCY", "7"),
            ("MAX_EXECUTION_TIME", "30m"),
            ("ALLOWED_NETWORKS", "10.0.0.0/8, 192.168.0.0/16,fd00::/8"),
            ("API_GATEWAY_URL", "http://testmesh-api.testmesh.svc.cluster.local:5016/"),
        ])
        .unwrap();
        assert_eq!(c.worker_concurrency, 7);
        assert_eq!(c.max_execution_time, Duration::from_secs(1800));
        assert_eq!(c.allowed_networks.len(), 3);
        assert_eq!(c.api_gateway_url.as_deref(), Some("http://testmesh-api.testmesh.svc.cluster.local:5016"));
    }

    #[test]
    fn each_bad_variable_is_named() {
        for (var, value) in [
            ("PORT", "80000"),
            ("WORKER_CONCURRENCY", "0"),
            ("WORKER_CONCURRENCY", "many"),
            ("MAX_EXECUTION_TIME", "soon"),
            ("MAX_EXECUTION_TIME", "0"),
            ("ALLOWED_NETWORKS", "10.0.0.0/33"),
            ("ALLOWED_NETWORKS", "example.com"),
            ("API_GATEWAY_URL", "ftp://gateway"),
            ("MAX_RESPONSE_BODY", "12"),
        ] {
            let err = load(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{err}");
            assert!(err.to_string().starts_with(&format!("invalid {var}=")), "{err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration(""), None);
    }
}
