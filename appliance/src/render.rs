//! Turning an [`ApplianceConfig`] into the exact files the appliance needs, as data.
//!
//! Nothing here touches the disk: `apply.rs` writes the result. Keeping rendering pure makes
//! idempotency checkable (same config, same bytes) and the output testable.
//!
//! The contract with the node (the `stele` binary) is the environment file
//! `config/appliance.env`, read by `stele.service`: `stele run --config config/config.toml`
//! with `STELE_RPC_LISTEN`, `STELE_REPLICA_LISTEN`, `STELE_DATA_DIR`, `STELE_RPC_TLS_CERT` and
//! `STELE_RPC_TLS_KEY` (documented in docs/operator/appliance.md).

use std::net::IpAddr;

use crate::bundle::{FILE_RPC_CERT, FILE_RPC_KEY};
use crate::config::{ApplianceConfig, Network, SyslogProtocol};

/// Where the data disk is mounted; everything that persists lives below it.
pub const DATA_MOUNT: &str = "var/lib/stele";
/// The replica's config and keys (from the bundle), mode 0700, owned by the node user.
pub const CONFIG_DIR: &str = "var/lib/stele/config";
/// The chain database, owned by the node user.
pub const CHAIN_DIR: &str = "var/lib/stele/data";
/// Environment file read by `stele.service`.
pub const NODE_ENV_FILE: &str = "appliance.env";
/// systemd-networkd unit for the NIC (runtime directory: the root file system is read-only).
pub const NETWORKD_FILE: &str = "run/systemd/network/10-stele.network";
/// timesyncd drop-in.
pub const TIMESYNCD_FILE: &str = "run/systemd/timesyncd.conf.d/50-stele.conf";
/// The full nftables rule set, loaded with `nft -f`.
pub const NFTABLES_FILE: &str = "run/stele/nftables.conf";
/// authorized_keys for the break-glass user (sshd_config points here).
pub const SSH_KEYS_FILE: &str = "run/stele/ssh/authorized_keys";
/// rsyslog forwarding rule (rsyslog.conf includes this directory).
pub const RSYSLOG_FILE: &str = "run/stele/rsyslog.d/50-forward.conf";
/// Console banner shown by getty above the login prompt.
pub const ISSUE_FILE: &str = "run/issue.d/50-stele.issue";

/// Who owns a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// root:root.
    Root,
    /// The node's system user (`stele`).
    Node,
}

/// One file the configurator wants on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredFile {
    /// Path relative to the system root.
    pub path: String,
    /// Exact content.
    pub content: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub owner: Owner,
}

/// Everything the configurator manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Files in the config directory; any other file found there is removed.
    pub config_files: Vec<DesiredFile>,
    /// Runtime files outside the config directory.
    pub runtime_files: Vec<DesiredFile>,
    /// Runtime files that must not exist (a feature switched off).
    pub absent: Vec<String>,
}

/// Builds the plan for one configuration.
pub fn plan(cfg: &ApplianceConfig, version: &str) -> Plan {
    let mut config_files: Vec<DesiredFile> = cfg
        .bundle
        .files()
        .iter()
        .map(|(name, content)| DesiredFile {
            path: format!("{CONFIG_DIR}/{name}"),
            content: content.clone().into_bytes(),
            mode: 0o600,
            owner: Owner::Node,
        })
        .collect();
    config_files.push(DesiredFile {
        path: format!("{CONFIG_DIR}/{NODE_ENV_FILE}"),
        content: node_env(cfg).into_bytes(),
        mode: 0o600,
        owner: Owner::Node,
    });
    let mut runtime_files = vec![
        file(NETWORKD_FILE, networkd(cfg), 0o644),
        file(TIMESYNCD_FILE, timesyncd(cfg), 0o644),
        file(NFTABLES_FILE, nftables(cfg), 0o600),
        file(ISSUE_FILE, banner(cfg, version, BannerStyle::Issue), 0o644),
    ];
    let mut absent = Vec::new();
    match &cfg.ssh_key {
        Some(k) => runtime_files.push(file(SSH_KEYS_FILE, format!("{}\n", k.as_line()), 0o644)),
        None => absent.push(SSH_KEYS_FILE.to_owned()),
    }
    match &cfg.syslog {
        Some(_) => runtime_files.push(file(RSYSLOG_FILE, rsyslog(cfg), 0o644)),
        None => absent.push(RSYSLOG_FILE.to_owned()),
    }
    Plan {
        config_files,
        runtime_files,
        absent,
    }
}

fn file(path: &str, content: String, mode: u32) -> DesiredFile {
    DesiredFile {
        path: path.to_owned(),
        content: content.into_bytes(),
        mode,
        owner: Owner::Root,
    }
}

/// The environment file for `stele.service`.
pub fn node_env(cfg: &ApplianceConfig) -> String {
    let dir = format!("/{CONFIG_DIR}");
    format!(
        "# Written by stele-firstboot from the VM's deployment properties; do not edit.\n\
         STELE_CONFIG={dir}/config.toml\n\
         STELE_DATA_DIR=/{CHAIN_DIR}\n\
         STELE_REPLICA_ID={}\n\
         STELE_RPC_LISTEN=[::]:{}\n\
         STELE_REPLICA_LISTEN=[::]:{}\n\
         STELE_RPC_TLS_CERT={dir}/{FILE_RPC_CERT}\n\
         STELE_RPC_TLS_KEY={dir}/{FILE_RPC_KEY}\n",
        cfg.bundle.replica_id(),
        cfg.rpc_port,
        cfg.replica_port,
    )
}

fn networkd(cfg: &ApplianceConfig) -> String {
    let mut s = String::from(
        "# Written by stele-firstboot from the VM's deployment properties.\n\
         [Match]\nType=ether\n\n[Network]\n",
    );
    let dns = match &cfg.network {
        Network::Dhcp { dns } => {
            s.push_str("DHCP=yes\nIPv6AcceptRA=yes\nLinkLocalAddressing=ipv6\n");
            dns
        }
        Network::Static {
            address,
            gateway,
            dns,
        } => {
            s.push_str("DHCP=no\nIPv6AcceptRA=no\nLinkLocalAddressing=ipv6\n");
            s.push_str(&format!("Address={address}\n"));
            if let Some(g) = gateway {
                s.push_str(&format!("Gateway={g}\n"));
            }
            dns
        }
    };
    for d in dns {
        s.push_str(&format!("DNS={d}\n"));
    }
    if matches!(cfg.network, Network::Dhcp { .. }) {
        s.push_str("\n[DHCPv4]\nUseNTP=yes\nUseHostname=no\n");
    }
    s
}

fn timesyncd(cfg: &ApplianceConfig) -> String {
    let mut s =
        String::from("# Written by stele-firstboot from the VM's deployment properties.\n[Time]\n");
    if !cfg.ntp_servers.is_empty() {
        s.push_str(&format!("NTP={}\n", cfg.ntp_servers.join(" ")));
    }
    s
}

fn rsyslog(cfg: &ApplianceConfig) -> String {
    let Some(t) = &cfg.syslog else {
        return String::new();
    };
    let protocol = match t.protocol {
        SyslogProtocol::Udp => "udp",
        SyslogProtocol::Tcp => "tcp",
    };
    format!(
        "# Written by stele-firstboot from the VM's deployment properties.\n\
         *.* action(type=\"omfwd\" target=\"{}\" port=\"{}\" protocol=\"{protocol}\" \
         TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\" \
         action.resumeRetryCount=\"-1\" queue.type=\"LinkedList\" queue.size=\"10000\")\n",
        t.host, t.port
    )
}

/// The complete firewall: input policy drop, only what the appliance serves.
pub fn nftables(cfg: &ApplianceConfig) -> String {
    let ssh = if cfg.ssh_key.is_some() {
        "        tcp dport 22 accept comment \"break-glass ssh\"\n"
    } else {
        ""
    };
    format!(
        "#!/usr/sbin/nft -f\n\
         # Written by stele-firstboot from the VM's deployment properties.\n\
         flush ruleset\n\
         table inet stele {{\n\
         \x20   chain input {{\n\
         \x20       type filter hook input priority filter; policy drop;\n\
         \x20       ct state invalid drop\n\
         \x20       ct state established,related accept\n\
         \x20       iifname \"lo\" accept\n\
         \x20       meta l4proto icmp icmp type {{ echo-request, destination-unreachable, time-exceeded, parameter-problem }} limit rate 20/second accept\n\
         \x20       meta l4proto ipv6-icmp accept\n\
         \x20       udp sport 67 udp dport 68 accept comment \"dhcpv4 client\"\n\
         \x20       udp sport 547 udp dport 546 accept comment \"dhcpv6 client\"\n\
         \x20       tcp dport {} accept comment \"json-rpc over tls\"\n\
         \x20       tcp dport {} accept comment \"replica transport\"\n\
         {ssh}\
         \x20   }}\n\
         \x20   chain forward {{\n\
         \x20       type filter hook forward priority filter; policy drop;\n\
         \x20   }}\n\
         \x20   chain output {{\n\
         \x20       type filter hook output priority filter; policy accept;\n\
         \x20   }}\n\
         }}\n",
        cfg.rpc_port, cfg.replica_port
    )
}

/// Where a banner is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BannerStyle {
    /// An agetty issue file: `\4` expands to the VM's IPv4 address at display time.
    Issue,
    /// Plain text for the console and the journal at configuration time.
    Console,
}

/// The console banner: RPC URL and the TLS certificate fingerprint.
pub fn banner(cfg: &ApplianceConfig, version: &str, style: BannerStyle) -> String {
    let host = match (&cfg.network, style) {
        (Network::Static { address, .. }, _) => match address.addr {
            IpAddr::V6(a) => format!("[{a}]"),
            IpAddr::V4(a) => a.to_string(),
        },
        (Network::Dhcp { .. }, BannerStyle::Issue) => "\\4".to_owned(),
        (Network::Dhcp { .. }, BannerStyle::Console) => "<address from DHCP>".to_owned(),
    };
    let ssh = if cfg.ssh_key.is_some() {
        "on (user breakglass, key from properties)"
    } else {
        "off"
    };
    format!(
        "\nstele appliance {version} - replica {}\n\
         \x20 JSON-RPC (TLS):    https://{host}:{}\n\
         \x20 TLS certificate:   SHA256 {}\n\
         \x20 Replica port:      {}\n\
         \x20 SSH:               {ssh}\n\n",
        cfg.bundle.replica_id(),
        cfg.rpc_port,
        cfg.bundle.rpc_cert_fingerprint(),
        cfg.replica_port,
    )
}

/// Banner shown when the configuration was refused; the node is not started.
pub fn error_banner(version: &str, message: &str) -> String {
    format!(
        "\nstele appliance {version} - NOT RUNNING: the deployment properties are invalid.\n\
         {message}\n\
         Fix the vApp properties in vCenter (VM > Configure > vApp Options), then restart the VM.\n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::sample;
    use crate::config::{IpCidr, SshPublicKey};

    fn cfg() -> ApplianceConfig {
        ApplianceConfig {
            bundle: sample(),
            network: Network::Dhcp { dns: vec![] },
            ntp_servers: vec![],
            rpc_port: 8545,
            replica_port: 30303,
            syslog: None,
            ssh_key: None,
        }
    }

    #[test]
    fn plan_is_deterministic_and_complete() {
        let p = plan(&cfg(), "0.1.0");
        assert_eq!(p, plan(&cfg(), "0.1.0"));
        let names: Vec<&str> = p.config_files.iter().map(|f| f.path.as_str()).collect();
        assert!(names.contains(&"var/lib/stele/config/rpc.key"));
        assert!(names.contains(&"var/lib/stele/config/appliance.env"));
        assert!(
            p.config_files
                .iter()
                .all(|f| f.mode == 0o600 && f.owner == Owner::Node)
        );
        assert_eq!(
            p.absent,
            vec![SSH_KEYS_FILE.to_owned(), RSYSLOG_FILE.to_owned()]
        );
    }

    #[test]
    fn firewall_opens_only_configured_ports() {
        let mut c = cfg();
        c.rpc_port = 9000;
        let rules = nftables(&c);
        assert!(rules.contains("policy drop") && rules.contains("tcp dport 9000 accept"));
        assert!(!rules.contains("dport 22"));
        c.ssh_key = Some(SshPublicKey("ssh-ed25519 AAAA".into()));
        assert!(nftables(&c).contains("tcp dport 22 accept"));
    }

    #[test]
    fn static_network_and_banner() {
        let mut c = cfg();
        c.network = Network::Static {
            address: IpCidr {
                addr: "10.0.0.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                prefix: 24,
            },
            gateway: None,
            dns: vec![IpAddr::from([10, 0, 0, 2])],
        };
        let n = networkd(&c);
        assert!(
            n.contains("Address=10.0.0.5/24")
                && n.contains("DNS=10.0.0.2")
                && !n.contains("Gateway")
        );
        let b = banner(&c, "0.1.0", BannerStyle::Console);
        assert!(
            b.contains("https://10.0.0.5:8545") && b.contains(&c.bundle.rpc_cert_fingerprint())
        );
        assert!(banner(&cfg(), "0.1.0", BannerStyle::Issue).contains("https://\\4:8545"));
    }
}
