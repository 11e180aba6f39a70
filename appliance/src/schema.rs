//! The one typed definition of the appliance's deployment properties.
//!
//! Both sides use this table: `ovf.rs` renders it into the OVF `ProductSection` that vCenter
//! shows as "Customize template", and `config.rs` validates what the guest receives against
//! it. A property that exists in one place and not the other is therefore impossible, and the
//! static checker (`check.rs`) proves the shipped descriptor still matches.

/// Where a property is shown in the vCenter deploy wizard. Order of the variants is the order
/// of the categories in the descriptor (OVF `Category` elements are ordering markers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// The replica's identity: config and keys from `stele init`.
    Replica,
    /// Addressing of the VM's one NIC.
    Network,
    /// Time synchronisation.
    Time,
    /// TCP ports the node listens on.
    Ports,
    /// Remote log forwarding.
    Logging,
    /// Break-glass access.
    Access,
    /// Build metadata, not shown to administrators.
    Build,
}

impl Category {
    /// The heading vCenter shows for this category.
    pub const fn label(self) -> &'static str {
        match self {
            Category::Replica => "1. Replica identity",
            Category::Network => "2. Network",
            Category::Time => "3. Time",
            Category::Ports => "4. Ports",
            Category::Logging => "5. Logging",
            Category::Access => "6. Break-glass access",
            Category::Build => "Build",
        }
    }
}

/// What a property's value must look like; each kind has one parser in `config.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The replica bundle: base64 of the JSON written by `stele init --appliance`.
    Bundle,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// An interface address with prefix length, `10.0.0.11/24` or `fd00::11/64`.
    Cidr,
    /// A single IPv4 or IPv6 address.
    IpAddr,
    /// Comma-separated IP addresses.
    IpList,
    /// Comma-separated host names or IP addresses.
    HostList,
    /// A TCP port the node listens on, `PORT_MIN..=65535`.
    Port,
    /// `[udp://|tcp://]host[:port]`.
    SyslogTarget,
    /// One OpenSSH public key line.
    SshPublicKey,
    /// Free text fixed at build time (not user-configurable).
    BuildText,
}

/// Whether a property must be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Must be non-empty.
    Always,
    /// May be empty.
    Optional,
    /// Must be non-empty when `net.mode` is `static`.
    WhenStatic,
}

/// One deployment property.
#[derive(Clone, Copy, Debug)]
pub struct PropertySpec {
    /// `ovf:key`: the name the guest sees in the OVF environment.
    pub key: &'static str,
    /// The wizard section.
    pub category: Category,
    /// Short label shown in the wizard.
    pub label: &'static str,
    /// The help text shown under the label; written for a vSphere administrator.
    pub description: &'static str,
    /// Value syntax.
    pub kind: Kind,
    /// Default value placed in the descriptor (`ovf:value`).
    pub default: &'static str,
    /// Whether the value must be present.
    pub requirement: Requirement,
    /// Masked in the wizard (`ovf:password`): the value carries key material.
    pub password: bool,
    /// Whether the property appears in the wizard (`ovf:userConfigurable`).
    pub user_configurable: bool,
    /// Longest accepted value in bytes (also emitted as `MaxLen`).
    pub max_len: usize,
}

/// Lowest port a property may name: the node runs with no capabilities at all, so it cannot
/// bind privileged ports, and this keeps it clear of SSH (22) and other system services.
pub const PORT_MIN: u16 = 1024;

/// vCenter limits a plain string property to 65535 characters (vim.vApp.PropertyInfo).
pub const VCENTER_STRING_LEN_MAX: usize = 65_535;

/// Most NTP servers we pass on; timesyncd tries them in order.
pub const NTP_SERVERS_MAX: usize = 8;

/// Most DNS servers we pass on to systemd-networkd.
pub const DNS_SERVERS_MAX: usize = 4;

/// The key of the network mode property, which other rules depend on.
pub const KEY_NET_MODE: &str = "net.mode";

/// Every property of the appliance, in wizard order (grouped by category).
pub const PROPERTIES: &[PropertySpec] = &[
    PropertySpec {
        key: "stele.bundle",
        category: Category::Replica,
        label: "Replica bundle",
        description: "The bundle for THIS replica printed by `stele init --appliance` on your \
            workstation (one long base64 line: replica config, TLS certificate and private keys). \
            Paste the bundle of a different replica into each VM. It contains secrets: anyone \
            with vApp read rights on this VM can read it.",
        kind: Kind::Bundle,
        default: "",
        requirement: Requirement::Always,
        password: true,
        user_configurable: true,
        max_len: VCENTER_STRING_LEN_MAX,
    },
    PropertySpec {
        key: "net.mode",
        category: Category::Network,
        label: "Addressing",
        description: "dhcp: take the address, gateway and DNS from DHCP (use a DHCP reservation \
            so the address stays stable, peers connect to it). static: use the address, gateway \
            and DNS servers below.",
        kind: Kind::Choice(&["dhcp", "static"]),
        default: "dhcp",
        requirement: Requirement::Always,
        password: false,
        user_configurable: true,
        max_len: 6,
    },
    PropertySpec {
        key: "net.address",
        category: Category::Network,
        label: "Static address (CIDR)",
        description: "Required for static addressing: this VM's address with prefix length, \
            e.g. 10.20.0.11/24 or fd00:20::11/64. Ignored with dhcp.",
        kind: Kind::Cidr,
        default: "",
        requirement: Requirement::WhenStatic,
        password: false,
        user_configurable: true,
        max_len: 64,
    },
    PropertySpec {
        key: "net.gateway",
        category: Category::Network,
        label: "Default gateway",
        description: "Static addressing: the default gateway, inside the subnet of the static \
            address, e.g. 10.20.0.1. Leave empty for an isolated network. Ignored with dhcp.",
        kind: Kind::IpAddr,
        default: "",
        requirement: Requirement::Optional,
        password: false,
        user_configurable: true,
        max_len: 64,
    },
    PropertySpec {
        key: "net.dns",
        category: Category::Network,
        label: "DNS servers",
        description: "Comma-separated DNS server addresses, e.g. 10.20.0.2,10.20.0.3 (at most 4). \
            With dhcp they are used in addition to the ones DHCP offers.",
        kind: Kind::IpList,
        default: "",
        requirement: Requirement::Optional,
        password: false,
        user_configurable: true,
        max_len: 256,
    },
    PropertySpec {
        key: "ntp.servers",
        category: Category::Time,
        label: "NTP servers",
        description: "Comma-separated NTP server names or addresses (at most 8), e.g. \
            ntp1.example.com,10.20.0.5. Empty: servers offered by DHCP, else Debian's public pool. \
            Keep replica clocks in sync: block timestamps come from them. Time sync with the \
            ESXi host is switched off.",
        kind: Kind::HostList,
        default: "",
        requirement: Requirement::Optional,
        password: false,
        user_configurable: true,
        max_len: 1024,
    },
    PropertySpec {
        key: "rpc.port",
        category: Category::Ports,
        label: "JSON-RPC port (HTTPS)",
        description: "TCP port on which this replica serves eth_* JSON-RPC over TLS to dApps and \
            wallets (1024-65535). The firewall opens only this port and the replica port.",
        kind: Kind::Port,
        default: "8545",
        requirement: Requirement::Always,
        password: false,
        user_configurable: true,
        max_len: 5,
    },
    PropertySpec {
        key: "replica.port",
        category: Category::Ports,
        label: "Replica port",
        description: "TCP port on which the replicas talk to each other over mutual TLS \
            (1024-65535). Must match the port the other replicas were given for this one in \
            `stele init`.",
        kind: Kind::Port,
        default: "30303",
        requirement: Requirement::Always,
        password: false,
        user_configurable: true,
        max_len: 5,
    },
    PropertySpec {
        key: "syslog.target",
        category: Category::Logging,
        label: "Remote syslog target",
        description: "Optional. Forward the system journal to this syslog server: \
            host[:port] or udp://host[:port] (UDP, default port 514) or tcp://host[:port]. \
            Empty: logs stay on the VM's data disk only.",
        kind: Kind::SyslogTarget,
        default: "",
        requirement: Requirement::Optional,
        password: false,
        user_configurable: true,
        max_len: 300,
    },
    PropertySpec {
        key: "ssh.authorized_key",
        category: Category::Access,
        label: "Break-glass SSH public key",
        description: "Optional. One OpenSSH public key line (ssh-ed25519 AAAA... comment). \
            When set, SSH is started for the unprivileged user `breakglass` (log reading only; \
            no sudo, root stays locked). Empty: SSH stays off and port 22 stays closed.",
        kind: Kind::SshPublicKey,
        default: "",
        requirement: Requirement::Optional,
        password: false,
        user_configurable: true,
        max_len: 16_384,
    },
    PropertySpec {
        key: "appliance.version",
        category: Category::Build,
        label: "Appliance version",
        description: "The stele appliance version this descriptor was built for.",
        kind: Kind::BuildText,
        default: "",
        requirement: Requirement::Optional,
        password: false,
        user_configurable: false,
        max_len: 64,
    },
];

/// The spec for `key`, if the appliance has such a property.
pub fn property(key: &str) -> Option<&'static PropertySpec> {
    PROPERTIES.iter().find(|p| p.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_grouped_by_category() {
        for (i, a) in PROPERTIES.iter().enumerate() {
            for b in &PROPERTIES[i + 1..] {
                assert_ne!(a.key, b.key, "duplicate key");
            }
        }
        // Categories are ordering markers in OVF: each must be one contiguous run.
        for w in PROPERTIES.windows(2) {
            assert!(
                w[0].category <= w[1].category,
                "{} before {}",
                w[0].key,
                w[1].key
            );
        }
    }

    #[test]
    fn every_property_is_documented_and_bounded() {
        for p in PROPERTIES {
            assert!(!p.label.is_empty() && p.description.len() > 20, "{}", p.key);
            assert!(
                p.max_len > 0 && p.max_len <= VCENTER_STRING_LEN_MAX,
                "{}",
                p.key
            );
            assert!(p.default.len() <= p.max_len, "{}", p.key);
        }
        assert!(property(KEY_NET_MODE).is_some());
        assert!(property("nope").is_none());
    }
}
