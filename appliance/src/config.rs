//! Strict validation of deployment properties into a typed [`ApplianceConfig`].
//!
//! Parse, don't validate: every property of `schema::PROPERTIES` goes through the parser of its
//! `Kind`, unknown keys are refused (the wizard's checks are advisory and API clients bypass
//! them), and every problem is collected so the administrator sees all of them at once.
//! Messages name the property and its label; values of password properties are never shown.

use std::fmt;
use std::net::IpAddr;

use crate::bundle::{Bundle, BundleError};
use crate::ovfenv::Properties;
use crate::schema::{
    self, DNS_SERVERS_MAX, Kind, NTP_SERVERS_MAX, PORT_MIN, PROPERTIES, PropertySpec, Requirement,
};

/// One problem with one property (or a pair of them).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropertyError {
    /// A required property is empty or absent.
    #[error("{key} ({label}): required, but not set")]
    Missing {
        /// Property key.
        key: &'static str,
        /// Wizard label.
        label: &'static str,
    },
    /// A value that does not parse.
    #[error("{key} ({label}): {reason}{shown}")]
    Invalid {
        /// Property key.
        key: &'static str,
        /// Wizard label.
        label: &'static str,
        /// What is wrong.
        reason: String,
        /// `; got "…"`, or empty for password properties.
        shown: String,
    },
    /// A key that this appliance does not define.
    #[error("{key}: not a property of the stele appliance (typo, or an OVF from another version?)")]
    Unknown {
        /// The key as received (truncated).
        key: String,
    },
    /// Two properties that contradict each other.
    #[error("{a} and {b}: {reason}")]
    Conflict {
        /// First key.
        a: &'static str,
        /// Second key.
        b: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// All problems found in one set of properties.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<PropertyError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} invalid deployment propert{}:",
            self.0.len(),
            if self.0.len() == 1 { "y" } else { "ies" }
        )?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// An interface address with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpCidr {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl IpCidr {
    /// Whether `other` is inside this address's subnet.
    pub fn contains(&self, other: IpAddr) -> bool {
        match (self.addr, other) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// How the NIC gets its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    /// DHCP (v4) and router advertisements.
    Dhcp {
        /// Extra DNS servers.
        dns: Vec<IpAddr>,
    },
    /// Fixed address.
    Static {
        /// Address and prefix.
        address: IpCidr,
        /// Default gateway, if any.
        gateway: Option<IpAddr>,
        /// DNS servers.
        dns: Vec<IpAddr>,
    },
}

/// Transport of the syslog forwarder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogProtocol {
    /// RFC 5426.
    Udp,
    /// RFC 6587 (octet-counted framing).
    Tcp,
}

/// Where to forward logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogTarget {
    /// UDP or TCP.
    pub protocol: SyslogProtocol,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// A checked OpenSSH public key line (`type base64 [comment]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshPublicKey(pub(crate) String);

impl SshPublicKey {
    /// The line as it goes into `authorized_keys`.
    pub fn as_line(&self) -> &str {
        &self.0
    }
}

/// The appliance configuration, every field proven valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplianceConfig {
    /// The replica's config and keys.
    pub bundle: Bundle,
    /// NIC addressing.
    pub network: Network,
    /// NTP servers (empty: DHCP-provided or the distribution's fallback).
    pub ntp_servers: Vec<String>,
    /// JSON-RPC (TLS) port.
    pub rpc_port: u16,
    /// Replica-to-replica port.
    pub replica_port: u16,
    /// Remote syslog, if any.
    pub syslog: Option<SyslogTarget>,
    /// Break-glass SSH key; SSH stays off without one.
    pub ssh_key: Option<SshPublicKey>,
}

impl ApplianceConfig {
    /// Validates a complete property set. Absent keys take the schema default; values equal
    /// to `null` count as absent (standalone ESXi has been seen to deliver unset fields so).
    pub fn from_properties(props: &Properties) -> Result<ApplianceConfig, ConfigErrors> {
        let mut errors = Vec::new();
        for key in props.keys() {
            if schema::property(key).is_none() {
                errors.push(PropertyError::Unknown {
                    key: key.chars().take(80).collect(),
                });
            }
        }
        let value = |key: &str| -> String {
            let spec = schema::property(key);
            let raw = props.get(key).map(|v| v.trim().to_owned());
            match raw {
                Some(v) if v != "null" => v,
                _ => spec.map(|s| s.default.to_owned()).unwrap_or_default(),
            }
        };
        let mode = value(schema::KEY_NET_MODE);
        let is_static = mode == "static";
        let mut parsed: Vec<(&'static PropertySpec, Option<Parsed>)> = Vec::new();
        for spec in PROPERTIES {
            let v = value(spec.key);
            let required = match spec.requirement {
                Requirement::Always => true,
                Requirement::WhenStatic => is_static,
                Requirement::Optional => false,
            };
            if v.is_empty() {
                if required {
                    errors.push(PropertyError::Missing {
                        key: spec.key,
                        label: spec.label,
                    });
                }
                parsed.push((spec, None));
                continue;
            }
            match parse_value(spec, &v) {
                Ok(p) => parsed.push((spec, Some(p))),
                Err(reason) => {
                    let shown = if spec.password {
                        String::new()
                    } else {
                        format!("; got {:?}", v.chars().take(100).collect::<String>())
                    };
                    errors.push(PropertyError::Invalid {
                        key: spec.key,
                        label: spec.label,
                        reason,
                        shown,
                    });
                    parsed.push((spec, None));
                }
            }
        }
        let get = |key: &str| {
            parsed
                .iter()
                .find(|(s, _)| s.key == key)
                .and_then(|(_, p)| p.clone())
        };

        let rpc_port = match get("rpc.port") {
            Some(Parsed::Port(p)) => Some(p),
            _ => None,
        };
        let replica_port = match get("replica.port") {
            Some(Parsed::Port(p)) => Some(p),
            _ => None,
        };
        if let (Some(a), Some(b)) = (rpc_port, replica_port)
            && a == b
        {
            errors.push(PropertyError::Conflict {
                a: "rpc.port",
                b: "replica.port",
                reason: format!("both are {a}; the two services need different ports"),
            });
        }
        let dns = match get("net.dns") {
            Some(Parsed::Ips(v)) => v,
            _ => Vec::new(),
        };
        let network = if is_static {
            let address = match get("net.address") {
                Some(Parsed::Cidr(c)) => Some(c),
                _ => None,
            };
            let gateway = match get("net.gateway") {
                Some(Parsed::Ip(g)) => Some(g),
                _ => None,
            };
            if let (Some(a), Some(g)) = (address, gateway)
                && (!a.contains(g) || a.addr == g)
            {
                errors.push(PropertyError::Conflict {
                    a: "net.address",
                    b: "net.gateway",
                    reason: format!("gateway {g} is not another address inside {a}"),
                });
            }
            address.map(|address| Network::Static {
                address,
                gateway,
                dns,
            })
        } else {
            Some(Network::Dhcp { dns })
        };
        let bundle = match get("stele.bundle") {
            Some(Parsed::Bundle(b)) => Some(*b),
            _ => None,
        };
        let ntp_servers = match get("ntp.servers") {
            Some(Parsed::Hosts(h)) => h,
            _ => Vec::new(),
        };
        let syslog = match get("syslog.target") {
            Some(Parsed::Syslog(s)) => Some(s),
            _ => None,
        };
        let ssh_key = match get("ssh.authorized_key") {
            Some(Parsed::Ssh(k)) => Some(k),
            _ => None,
        };
        match (errors.is_empty(), bundle, network, rpc_port, replica_port) {
            (true, Some(bundle), Some(network), Some(rpc_port), Some(replica_port)) => {
                Ok(ApplianceConfig {
                    bundle,
                    network,
                    ntp_servers,
                    rpc_port,
                    replica_port,
                    syslog,
                    ssh_key,
                })
            }
            // Every None above was reported as Missing or Invalid; the fallback keeps this total.
            _ if !errors.is_empty() => Err(ConfigErrors(errors)),
            _ => Err(ConfigErrors(vec![PropertyError::Missing {
                key: "stele.bundle",
                label: "Replica bundle",
            }])),
        }
    }
}

/// A value parsed according to its kind.
#[derive(Clone, Debug)]
enum Parsed {
    Bundle(Box<Bundle>),
    Word,
    Cidr(IpCidr),
    Ip(IpAddr),
    Ips(Vec<IpAddr>),
    Hosts(Vec<String>),
    Port(u16),
    Syslog(SyslogTarget),
    Ssh(SshPublicKey),
}

/// Checks one non-empty value against its spec; the error is a sentence for the admin.
pub fn check_value(spec: &PropertySpec, value: &str) -> Result<(), String> {
    parse_value(spec, value).map(|_| ())
}

fn parse_value(spec: &PropertySpec, v: &str) -> Result<Parsed, String> {
    if v.len() > spec.max_len {
        return Err(format!(
            "{} characters, at most {} allowed",
            v.len(),
            spec.max_len
        ));
    }
    if spec.kind != Kind::SshPublicKey
        && spec.kind != Kind::Bundle
        && v.chars().any(char::is_control)
    {
        return Err("contains control characters".to_owned());
    }
    match spec.kind {
        Kind::Bundle => Bundle::parse(v)
            .map(|b| Parsed::Bundle(Box::new(b)))
            .map_err(|e: BundleError| e.to_string()),
        Kind::Choice(words) => {
            if words.contains(&v) {
                Ok(Parsed::Word)
            } else {
                Err(format!("must be one of {}", words.join(", ")))
            }
        }
        Kind::Cidr => parse_cidr(v).map(Parsed::Cidr),
        Kind::IpAddr => parse_ip(v).map(Parsed::Ip),
        Kind::IpList => {
            let items = split_list(v)?;
            if items.len() > DNS_SERVERS_MAX {
                return Err(format!(
                    "{} addresses, at most {DNS_SERVERS_MAX}",
                    items.len()
                ));
            }
            items
                .iter()
                .map(|s| parse_ip(s))
                .collect::<Result<Vec<_>, _>>()
                .map(Parsed::Ips)
        }
        Kind::HostList => {
            let items = split_list(v)?;
            if items.len() > NTP_SERVERS_MAX {
                return Err(format!(
                    "{} servers, at most {NTP_SERVERS_MAX}",
                    items.len()
                ));
            }
            for h in &items {
                check_host(h)?;
            }
            Ok(Parsed::Hosts(
                items.into_iter().map(str::to_owned).collect(),
            ))
        }
        Kind::Port => parse_port(v).map(Parsed::Port),
        Kind::SyslogTarget => parse_syslog(v).map(Parsed::Syslog),
        Kind::SshPublicKey => parse_ssh_key(v).map(Parsed::Ssh),
        Kind::BuildText => Ok(Parsed::Word),
    }
}

fn split_list(v: &str) -> Result<Vec<&str>, String> {
    let items: Vec<&str> = v.split(',').map(str::trim).collect();
    if items.iter().any(|s| s.is_empty()) {
        return Err("empty entry in the comma-separated list".to_owned());
    }
    let mut seen = items.clone();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err("the list names the same entry twice".to_owned());
    }
    Ok(items)
}

fn parse_ip(v: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = v
        .parse()
        .map_err(|_| format!("{v:?} is not an IPv4 or IPv6 address"))?;
    if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
        return Err(format!("{ip} is not a usable unicast address"));
    }
    if let IpAddr::V4(v4) = ip
        && v4.is_broadcast()
    {
        return Err(format!("{ip} is the broadcast address"));
    }
    Ok(ip)
}

fn parse_cidr(v: &str) -> Result<IpCidr, String> {
    let (addr, prefix) = v
        .split_once('/')
        .ok_or_else(|| "needs a prefix length, e.g. 10.0.0.11/24".to_owned())?;
    let addr = parse_ip(addr)?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("prefix length {prefix:?} is not a number"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix == 0 || prefix > max {
        return Err(format!("prefix length must be 1..={max}"));
    }
    let cidr = IpCidr { addr, prefix };
    // The network and (IPv4) broadcast addresses cannot be an interface's address.
    if let IpAddr::V4(a) = addr
        && prefix < 31
    {
        let host_bits = u32::from(a) & !u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let all_ones = !u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        if host_bits == 0 || host_bits == all_ones {
            return Err(format!(
                "{cidr} is the network or broadcast address of its subnet"
            ));
        }
    }
    Ok(cidr)
}

fn parse_port(v: &str) -> Result<u16, String> {
    if !v.bytes().all(|b| b.is_ascii_digit()) || v.len() > 5 {
        return Err("must be a number".to_owned());
    }
    let n: u32 = v.parse().map_err(|_| "must be a number".to_owned())?;
    match u16::try_from(n) {
        Ok(p) if p >= PORT_MIN => Ok(p),
        _ => Err(format!("must be between {PORT_MIN} and 65535")),
    }
}

/// Host name (RFC 1123) or IP address.
fn check_host(h: &str) -> Result<(), String> {
    if h.parse::<IpAddr>().is_ok() {
        return parse_ip(h).map(|_| ());
    }
    let ok = h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{h:?} is not a host name or IP address"))
    }
}

fn parse_syslog(v: &str) -> Result<SyslogTarget, String> {
    let (protocol, rest) = if let Some(r) = v.strip_prefix("udp://") {
        (SyslogProtocol::Udp, r)
    } else if let Some(r) = v.strip_prefix("tcp://") {
        (SyslogProtocol::Tcp, r)
    } else if v.contains("://") {
        return Err("scheme must be udp:// or tcp://".to_owned());
    } else {
        (SyslogProtocol::Udp, v)
    };
    // [v6]:port, v6, host:port, host
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner
            .split_once(']')
            .ok_or_else(|| "unclosed [ in IPv6 address".to_owned())?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("expected :port after ]".to_owned()),
        };
        (h, port)
    } else if rest.matches(':').count() > 1 {
        (rest, None)
    } else if let Some((h, p)) = rest.split_once(':') {
        (h, Some(p))
    } else {
        (rest, None)
    };
    check_host(host)?;
    let port = match port {
        None => 514,
        Some(p) => {
            let n: u16 = p
                .parse()
                .map_err(|_| format!("port {p:?} is not a number 1-65535"))?;
            if n == 0 {
                return Err("port 0 is not valid".to_owned());
            }
            n
        }
    };
    Ok(SyslogTarget {
        protocol,
        host: host.to_owned(),
        port,
    })
}

const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

fn parse_ssh_key(v: &str) -> Result<SshPublicKey, String> {
    use base64::Engine as _;
    if v.contains('\n') || v.contains('\r') {
        return Err("must be exactly one line".to_owned());
    }
    if v.chars().any(|c| c.is_control()) {
        return Err("contains control characters".to_owned());
    }
    let mut parts = v.split_whitespace();
    let kind = parts.next().unwrap_or_default();
    if !SSH_KEY_TYPES.contains(&kind) {
        return Err(format!(
            "must start with a key type ({}); options such as command= are not accepted",
            SSH_KEY_TYPES.join(", ")
        ));
    }
    let blob_b64 = parts
        .next()
        .ok_or_else(|| "key data missing after the key type".to_owned())?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_b64)
        .map_err(|_| "key data is not base64".to_owned())?;
    // The blob starts with the key type as an SSH string: u32 length + bytes.
    let embedded = blob
        .get(..4)
        .and_then(|l| l.try_into().ok())
        .map(u32::from_be_bytes)
        .and_then(|len| usize::try_from(len).ok())
        .and_then(|len| blob.get(4..4usize.checked_add(len)?));
    if embedded != Some(kind.as_bytes()) {
        return Err(format!("key data does not hold a {kind} key"));
    }
    let comment: Vec<&str> = parts.collect();
    let line = if comment.is_empty() {
        format!("{kind} {blob_b64}")
    } else {
        format!("{kind} {blob_b64} {}", comment.join(" "))
    };
    Ok(SshPublicKey(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::sample;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        let mut p: Properties = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        p.entry("stele.bundle".to_owned())
            .or_insert_with(|| sample().encode());
        p
    }

    fn errors(p: &Properties) -> Vec<PropertyError> {
        match ApplianceConfig::from_properties(p) {
            Ok(_) => Vec::new(),
            Err(ConfigErrors(e)) => e,
        }
    }

    fn invalid_key(p: &Properties) -> Vec<&'static str> {
        errors(p)
            .iter()
            .map(|e| match e {
                PropertyError::Invalid { key, .. } | PropertyError::Missing { key, .. } => *key,
                PropertyError::Conflict { a, .. } => *a,
                PropertyError::Unknown { .. } => "unknown",
            })
            .collect()
    }

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHXkTjmjy0l8s6s7n1kHxZs1m1p7cK6cTsdAsNqEKuJn admin@ws";

    #[test]
    fn defaults_with_a_bundle_are_a_valid_dhcp_config() {
        let c = ApplianceConfig::from_properties(&props(&[]));
        let c = match c {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.network, Network::Dhcp { dns: vec![] });
        assert_eq!((c.rpc_port, c.replica_port), (8545, 30303));
        assert!(c.syslog.is_none() && c.ssh_key.is_none() && c.ntp_servers.is_empty());
    }

    #[test]
    fn full_static_config() {
        let p = props(&[
            ("net.mode", "static"),
            ("net.address", "10.20.0.11/24"),
            ("net.gateway", "10.20.0.1"),
            ("net.dns", "10.20.0.2, 10.20.0.3"),
            ("ntp.servers", "ntp1.example.com,10.20.0.5"),
            ("rpc.port", "9545"),
            ("replica.port", "31303"),
            ("syslog.target", "tcp://logs.example.com:6514"),
            ("ssh.authorized_key", ED25519),
            ("appliance.version", "0.1.0"),
        ]);
        let c = match ApplianceConfig::from_properties(&p) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert!(
            matches!(c.network, Network::Static { gateway: Some(_), ref dns, .. } if dns.len() == 2)
        );
        assert_eq!(c.ntp_servers.len(), 2);
        assert_eq!(
            c.syslog.as_ref().map(|s| (s.protocol, s.port)),
            Some((SyslogProtocol::Tcp, 6514))
        );
        assert_eq!(c.ssh_key.as_ref().map(SshPublicKey::as_line), Some(ED25519));
    }

    #[test]
    fn bundle_is_required_and_checked_without_echoing_it() {
        let mut p = props(&[]);
        p.remove("stele.bundle");
        assert_eq!(invalid_key(&p), vec!["stele.bundle"]);
        let p = props(&[("stele.bundle", "c2VjcmV0LXN0dWZm")]);
        let e = errors(&p);
        assert_eq!(e.len(), 1);
        let msg = e[0].to_string();
        assert!(
            msg.contains("stele.bundle") && !msg.contains("c2VjcmV0"),
            "{msg}"
        );
        assert_eq!(
            invalid_key(&props(&[("stele.bundle", "null")])),
            vec!["stele.bundle"]
        );
    }

    #[test]
    fn net_mode_must_be_a_known_word() {
        assert_eq!(
            invalid_key(&props(&[("net.mode", "DHCP")])),
            vec!["net.mode"]
        );
        assert_eq!(invalid_key(&props(&[("net.mode", "")])), vec!["net.mode"]);
    }

    #[test]
    fn static_needs_an_address() {
        assert_eq!(
            invalid_key(&props(&[("net.mode", "static")])),
            vec!["net.address"]
        );
        // With dhcp an address is not required, and a bad one is still reported.
        assert!(errors(&props(&[("net.mode", "dhcp")])).is_empty());
    }

    #[test]
    fn cidr_rules() {
        for bad in [
            "10.0.0.1",
            "10.0.0.1/33",
            "10.0.0.1/0",
            "10.0.0.0/24",
            "10.0.0.255/24",
            "0.0.0.0/8",
            "224.0.0.1/4",
            "127.0.0.1/8",
            "fd00::1/129",
            "x/24",
            "10.0.0.1/abc",
        ] {
            let p = props(&[("net.mode", "static"), ("net.address", bad)]);
            assert_eq!(invalid_key(&p), vec!["net.address"], "{bad}");
        }
        for good in [
            "10.0.0.1/24",
            "192.168.1.1/31",
            "10.0.0.0/32",
            "fd00:20::11/64",
        ] {
            assert!(
                errors(&props(&[("net.mode", "static"), ("net.address", good)])).is_empty(),
                "{good}"
            );
        }
    }

    #[test]
    fn gateway_must_be_inside_the_subnet() {
        let p = props(&[
            ("net.mode", "static"),
            ("net.address", "10.0.0.5/24"),
            ("net.gateway", "10.0.1.1"),
        ]);
        assert_eq!(invalid_key(&p), vec!["net.address"]);
        let p = props(&[
            ("net.mode", "static"),
            ("net.address", "10.0.0.5/24"),
            ("net.gateway", "10.0.0.5"),
        ]);
        assert_eq!(invalid_key(&p), vec!["net.address"]);
        let p = props(&[
            ("net.mode", "static"),
            ("net.address", "fd00::5/64"),
            ("net.gateway", "10.0.0.1"),
        ]);
        assert_eq!(invalid_key(&p), vec!["net.address"]);
        let p = props(&[("net.gateway", "not-an-ip")]);
        assert_eq!(invalid_key(&p), vec!["net.gateway"]);
    }

    #[test]
    fn dns_list_rules() {
        for bad in [
            "10.0.0.1,",
            "10.0.0.1,,10.0.0.2",
            "10.0.0.1,10.0.0.1",
            "dns.example.com",
            "1.1.1.1,1.0.0.1,8.8.8.8,8.8.4.4,9.9.9.9",
            "255.255.255.255",
        ] {
            assert_eq!(
                invalid_key(&props(&[("net.dns", bad)])),
                vec!["net.dns"],
                "{bad}"
            );
        }
    }

    #[test]
    fn ntp_list_rules() {
        for bad in [
            "-bad.example",
            "a..b",
            "under_score.example",
            "x y",
            &"a,".repeat(9),
        ] {
            assert_eq!(
                invalid_key(&props(&[("ntp.servers", bad)])),
                vec!["ntp.servers"],
                "{bad}"
            );
        }
        assert!(
            errors(&props(&[(
                "ntp.servers",
                "pool.ntp.org,2001:db8::1,10.0.0.9"
            )]))
            .is_empty()
        );
    }

    #[test]
    fn port_rules() {
        for bad in [
            "0", "80", "1023", "65536", "-1", "+8545", "85 45", "abc", "999999",
        ] {
            assert_eq!(
                invalid_key(&props(&[("rpc.port", bad)])),
                vec!["rpc.port"],
                "{bad}"
            );
            assert_eq!(
                invalid_key(&props(&[("replica.port", bad)])),
                vec!["replica.port"],
                "{bad}"
            );
        }
        assert_eq!(
            invalid_key(&props(&[("rpc.port", "30303")])),
            vec!["rpc.port"]
        );
        assert!(errors(&props(&[("rpc.port", "1024"), ("replica.port", "65535")])).is_empty());
    }

    #[test]
    fn syslog_rules() {
        for good in [
            "logs",
            "logs.example.com:1514",
            "udp://10.0.0.9",
            "tcp://[fd00::9]:6514",
            "fd00::9",
        ] {
            assert!(
                errors(&props(&[("syslog.target", good)])).is_empty(),
                "{good}"
            );
        }
        for bad in [
            "http://logs",
            "logs:0",
            "logs:99999",
            "tcp://[fd00::9",
            "bad host",
            "logs:x",
        ] {
            assert_eq!(
                invalid_key(&props(&[("syslog.target", bad)])),
                vec!["syslog.target"],
                "{bad}"
            );
        }
    }

    #[test]
    fn ssh_key_rules() {
        let wrong_type = ED25519.replacen("ssh-ed25519", "ssh-rsa", 1);
        for bad in [
            "command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHXk",
            "ssh-ed25519",
            "ssh-ed25519 !!!",
            "ssh-dss AAAAB3NzaC1kc3M=",
            wrong_type.as_str(),
            &format!("{ED25519}\nssh-ed25519 AAAA"),
        ] {
            assert_eq!(
                invalid_key(&props(&[("ssh.authorized_key", bad)])),
                vec!["ssh.authorized_key"],
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_overlong_values_are_refused() {
        assert_eq!(
            invalid_key(&props(&[("net.modee", "dhcp")])),
            vec!["unknown"]
        );
        let long = "a".repeat(2000);
        assert_eq!(
            invalid_key(&props(&[("ntp.servers", &long)])),
            vec!["ntp.servers"]
        );
        assert_eq!(
            invalid_key(&props(&[("net.gateway", "10.0.0.1\u{7}")])),
            vec!["net.gateway"]
        );
    }

    #[test]
    fn all_errors_are_reported_together() {
        let p = props(&[("net.mode", "static"), ("rpc.port", "1"), ("net.dns", "x")]);
        let e = ConfigErrors(errors(&p));
        assert_eq!(e.0.len(), 3, "{e}");
        assert!(
            e.to_string()
                .starts_with("3 invalid deployment properties:")
        );
    }

    #[test]
    fn every_schema_default_is_valid() {
        for spec in PROPERTIES {
            if !spec.default.is_empty() {
                assert_eq!(check_value(spec, spec.default), Ok(()), "{}", spec.key);
            }
        }
    }
}
