//! The static checker of a built OVA: everything we can prove without vSphere.
//!
//! Tar member order (`.ovf`, `.mf`, [`.cert`], then disks in `References` order), every `File`
//! size against its member, every `Disk` capacity against its VMDK header, the streamOptimized
//! subformat, the manifest lines and digests, the hardware vSphere and our kernel need, and
//! every `Property` against the configurator's own schema (type, flags, category, and a default
//! the guest would accept). All problems are collected, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

use sha2::{Digest, Sha256};

use crate::config::{ApplianceConfig, ConfigErrors, PropertyError, check_value};
use crate::manifest;
use crate::ovf::{self, HARDWARE_VERSION, OVF_NS, RASD_NS, VMDK_STREAM_FORMAT, VSSD_NS};
use crate::ovfenv::Properties;
use crate::schema::{self, PROPERTIES};
use crate::tar::{self, TarError};
use crate::vmdk::{self, VmdkInfo};

/// Largest descriptor or manifest we hold in memory.
const TEXT_MEMBER_BYTES_MAX: u64 = 1024 * 1024;

/// Result of checking one OVA.
#[derive(Debug, Default)]
pub struct Report {
    /// Members in archive order with sizes.
    pub members: Vec<(String, u64)>,
    /// Number of properties in the descriptor.
    pub properties: usize,
    /// Every problem found; empty means the OVA passed.
    pub problems: Vec<String>,
}

struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[derive(Default)]
struct Collected {
    digests: BTreeMap<String, String>,
    texts: BTreeMap<String, String>,
    vmdks: BTreeMap<String, Result<VmdkInfo, String>>,
}

/// Checks an OVA read from `r`.
pub fn check_ova(r: impl Read) -> Result<Report, TarError> {
    let mut c = Collected::default();
    let members = tar::for_each_member(r, |m, data| {
        let mut h = Hashing {
            inner: data,
            hasher: Sha256::new(),
        };
        if m.name.ends_with(".ovf") || m.name.ends_with(".mf") || m.name.ends_with(".cert") {
            let mut text = String::new();
            (&mut h)
                .take(TEXT_MEMBER_BYTES_MAX)
                .read_to_string(&mut text)?;
            c.texts.insert(m.name.clone(), text);
        } else if m.name.ends_with(".vmdk") {
            let info = vmdk::read_info(&mut h).map_err(|e| e.to_string());
            c.vmdks.insert(m.name.clone(), info);
        }
        io::copy(&mut h, &mut io::sink())?;
        let hex: String = h
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        c.digests.insert(m.name.clone(), hex);
        Ok(())
    })?;
    let mut report = Report {
        members: members.iter().map(|m| (m.name.clone(), m.size)).collect(),
        ..Report::default()
    };
    check_parts(&mut report, &c);
    Ok(report)
}

fn check_parts(report: &mut Report, c: &Collected) {
    let p = &mut report.problems;
    let names: Vec<&str> = report.members.iter().map(|(n, _)| n.as_str()).collect();
    let sizes: BTreeMap<&str, u64> = report
        .members
        .iter()
        .map(|(n, s)| (n.as_str(), *s))
        .collect();
    if names.len() != sizes.len() {
        p.push("the OVA has two members with the same name".into());
    }
    let Some(ovf_name) = names.first().filter(|n| n.ends_with(".ovf")) else {
        p.push(format!(
            "first member must be the .ovf descriptor, found {:?}",
            names.first()
        ));
        return;
    };
    let stem = ovf_name.trim_end_matches(".ovf");
    let mf_name = format!("{stem}.mf");
    if names.get(1) != Some(&mf_name.as_str()) {
        p.push(format!(
            "second member must be {mf_name}, found {:?}",
            names.get(1)
        ));
    }
    let cert_name = format!("{stem}.cert");
    let disks_start = if names.get(2) == Some(&cert_name.as_str()) {
        3
    } else {
        2
    };
    let Some(ovf_text) = c.texts.get(*ovf_name) else {
        p.push("descriptor unreadable".into());
        return;
    };
    let doc = match roxmltree::Document::parse(ovf_text) {
        Ok(d) => d,
        Err(e) => {
            p.push(format!("{ovf_name} is not well-formed XML: {e}"));
            return;
        }
    };
    let root = doc.root_element();
    if !root.has_tag_name((OVF_NS, "Envelope")) {
        p.push("descriptor root is not an OVF 1.x Envelope".into());
        return;
    }
    let attr = |n: roxmltree::Node<'_, '_>, a: &str| n.attribute((OVF_NS, a)).map(str::to_owned);

    // References vs members.
    let mut files: BTreeMap<String, String> = BTreeMap::new(); // id -> href
    let mut hrefs = Vec::new();
    if let Some(refs) = child(root, "References") {
        for f in refs.children().filter(|n| n.has_tag_name((OVF_NS, "File"))) {
            let (Some(id), Some(href)) = (attr(f, "id"), attr(f, "href")) else {
                p.push("File without ovf:id or ovf:href".into());
                continue;
            };
            match (
                attr(f, "size").and_then(|s| s.parse::<u64>().ok()),
                sizes.get(href.as_str()),
            ) {
                (Some(declared), Some(actual)) if declared == *actual => {}
                (declared, actual) => p.push(format!(
                    "File {href}: ovf:size {declared:?} but member size {actual:?}"
                )),
            }
            files.insert(id, href.clone());
            hrefs.push(href);
        }
    } else {
        p.push("no References section".into());
    }
    let rest: Vec<&str> = names.iter().skip(disks_start).copied().collect();
    if rest != hrefs.iter().map(String::as_str).collect::<Vec<_>>() {
        p.push(format!("members after the descriptor/manifest {rest:?} must be exactly the References in order {hrefs:?}"));
    }

    // Disks vs VMDK headers.
    let mut disk_ids = BTreeSet::new();
    match child(root, "DiskSection") {
        Some(ds) => {
            for d in ds.children().filter(|n| n.has_tag_name((OVF_NS, "Disk"))) {
                let id = attr(d, "diskId").unwrap_or_default();
                disk_ids.insert(id.clone());
                if attr(d, "format").as_deref() != Some(VMDK_STREAM_FORMAT) {
                    p.push(format!("Disk {id}: format is not streamOptimized"));
                }
                let Some(href) = attr(d, "fileRef").and_then(|r| files.get(&r).cloned()) else {
                    p.push(format!("Disk {id}: fileRef does not name a File"));
                    continue;
                };
                let unit = capacity_unit(
                    attr(d, "capacityAllocationUnits")
                        .as_deref()
                        .unwrap_or("byte"),
                );
                let declared = attr(d, "capacity")
                    .and_then(|c| c.parse::<u64>().ok())
                    .zip(unit)
                    .and_then(|(c, u)| c.checked_mul(u));
                match c.vmdks.get(&href) {
                    Some(Ok(info)) => {
                        if declared != Some(info.capacity_bytes) {
                            p.push(format!(
                                "Disk {id}: capacity {declared:?} bytes but {href} holds {} bytes",
                                info.capacity_bytes
                            ));
                        }
                        if let Err(e) = info.check_stream_optimized() {
                            p.push(format!("{href}: {e}"));
                        }
                    }
                    Some(Err(e)) => p.push(format!("{href}: {e}")),
                    None => p.push(format!("Disk {id}: {href} is not a .vmdk member")),
                }
            }
        }
        None => p.push("no DiskSection".into()),
    }
    let networks: BTreeSet<String> = child(root, "NetworkSection")
        .map(|ns| {
            ns.children()
                .filter(|n| n.has_tag_name((OVF_NS, "Network")))
                .filter_map(|n| attr(n, "name"))
                .collect()
        })
        .unwrap_or_default();

    let Some(vs) = child(root, "VirtualSystem") else {
        p.push("no VirtualSystem".into());
        return;
    };
    check_hardware(p, vs, &disk_ids, &networks);
    report.properties = check_product(p, vs);

    // Manifest.
    match c.texts.get(&mf_name).map(|t| manifest::parse(t)) {
        Some(Ok(entries)) => {
            let listed: BTreeSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            for n in &names {
                if *n != mf_name && *n != cert_name && !listed.contains(n) {
                    p.push(format!("manifest has no line for {n}"));
                }
            }
            for e in &entries {
                match c.digests.get(&e.name) {
                    Some(d) if *d == e.sha256_hex => {}
                    Some(_) => p.push(format!(
                        "manifest digest of {} does not match the member",
                        e.name
                    )),
                    None => p.push(format!("manifest lists {} which is not in the OVA", e.name)),
                }
            }
        }
        Some(Err(e)) => p.push(format!("{mf_name}: {e}")),
        None => p.push(format!("no manifest {mf_name}")),
    }
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name((OVF_NS, name)))
}

fn capacity_unit(u: &str) -> Option<u64> {
    let u = u.replace(' ', "");
    if u == "byte" {
        return Some(1);
    }
    let exp: u32 = u.strip_prefix("byte*2^")?.parse().ok()?;
    1u64.checked_shl(exp)
}

fn rasd(item: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    item.children()
        .find(|c| c.has_tag_name((RASD_NS, name)))
        .and_then(|c| c.text())
        .map(|t| t.trim().to_owned())
}

fn check_hardware(
    p: &mut Vec<String>,
    vs: roxmltree::Node<'_, '_>,
    disk_ids: &BTreeSet<String>,
    networks: &BTreeSet<String>,
) {
    let Some(hw) = vs
        .children()
        .find(|c| c.has_tag_name((OVF_NS, "VirtualHardwareSection")))
    else {
        p.push("no VirtualHardwareSection".into());
        return;
    };
    let transport = hw.attribute((OVF_NS, "transport")).unwrap_or_default();
    let transports: BTreeSet<&str> = transport.split_whitespace().collect();
    if !transports.contains("com.vmware.guestInfo") || !transports.contains("iso") {
        p.push(format!(
            "ovf:transport is {transport:?}, needs com.vmware.guestInfo and iso"
        ));
    }
    let system_type = hw
        .descendants()
        .find(|c| c.has_tag_name((VSSD_NS, "VirtualSystemType")))
        .and_then(|c| c.text())
        .unwrap_or_default();
    if system_type != HARDWARE_VERSION {
        p.push(format!(
            "VirtualSystemType is {system_type:?}, expected {HARDWARE_VERSION}"
        ));
    }
    let items: Vec<roxmltree::Node<'_, '_>> = hw
        .children()
        .filter(|c| c.has_tag_name((OVF_NS, "Item")))
        .collect();
    let mut by_id: BTreeMap<String, String> = BTreeMap::new(); // InstanceID -> ResourceType
    for it in &items {
        let id = rasd(*it, "InstanceID").unwrap_or_default();
        // RASD elements must follow the schema's alphabetical sequence; vCenter validates it.
        let order: Vec<&str> = it
            .children()
            .filter(|c| c.is_element())
            .map(|c| c.tag_name().name())
            .collect();
        if order.windows(2).any(|w| w[0] > w[1]) {
            p.push(format!(
                "Item {id}: rasd elements not in schema order: {order:?}"
            ));
        }
        if by_id
            .insert(id.clone(), rasd(*it, "ResourceType").unwrap_or_default())
            .is_some()
        {
            p.push(format!("InstanceID {id} used twice"));
        }
    }
    let mut disks_seen = BTreeSet::new();
    let mut found = BTreeSet::new();
    for it in &items {
        let id = rasd(*it, "InstanceID").unwrap_or_default();
        let kind = rasd(*it, "ResourceType").unwrap_or_default();
        let sub = rasd(*it, "ResourceSubType").unwrap_or_default();
        if let Some(parent) = rasd(*it, "Parent")
            && !by_id.contains_key(&parent)
        {
            p.push(format!("Item {id}: Parent {parent} does not exist"));
        }
        let parent_type = rasd(*it, "Parent")
            .and_then(|pa| by_id.get(&pa).cloned())
            .unwrap_or_default();
        match kind.as_str() {
            "6" => {
                found.insert("scsi");
                if sub != "VirtualSCSI" {
                    p.push(format!("SCSI controller {id} is {sub:?}; Debian's cloud kernel needs VirtualSCSI (pvscsi)"));
                }
            }
            "10" => {
                found.insert("nic");
                if sub != "VmxNet3" {
                    p.push(format!("NIC {id} is {sub:?}, expected VmxNet3"));
                }
                let conn = rasd(*it, "Connection").unwrap_or_default();
                if !networks.contains(&conn) {
                    p.push(format!(
                        "NIC {id} connects to {conn:?}, not a Network of NetworkSection"
                    ));
                }
            }
            "15" => {
                found.insert("cdrom");
                if parent_type != "5" {
                    p.push(format!("CD-ROM {id} must sit on the IDE controller"));
                }
            }
            "17" => {
                let host = rasd(*it, "HostResource").unwrap_or_default();
                let disk = host.trim_start_matches("ovf:/disk/").to_owned();
                if !disk_ids.contains(&disk) || !disks_seen.insert(disk) {
                    p.push(format!(
                        "disk Item {id}: HostResource {host:?} is unknown or used twice"
                    ));
                }
                if parent_type != "6" {
                    p.push(format!("disk Item {id} must sit on the SCSI controller"));
                }
            }
            _ => {}
        }
    }
    for need in ["scsi", "nic", "cdrom"] {
        if !found.contains(need) {
            p.push(format!("virtual hardware has no {need}"));
        }
    }
    if disks_seen.len() != disk_ids.len() {
        p.push(format!(
            "{} disks declared, {} attached",
            disk_ids.len(),
            disks_seen.len()
        ));
    }
    let firmware = hw
        .children()
        .filter(|c| c.has_tag_name((ovf::VMW_NS, "Config")))
        .find(|c| c.attribute((ovf::VMW_NS, "key")) == Some("firmware"))
        .and_then(|c| c.attribute((ovf::VMW_NS, "value")));
    if firmware != Some("efi") {
        p.push(format!(
            "firmware is {firmware:?}, expected efi (the OS disk boots with systemd-boot)"
        ));
    }
}

/// Checks the ProductSection against the schema; returns the number of properties.
fn check_product(p: &mut Vec<String>, vs: roxmltree::Node<'_, '_>) -> usize {
    let Some(ps) = vs
        .children()
        .find(|c| c.has_tag_name((OVF_NS, "ProductSection")))
    else {
        p.push("no ProductSection".into());
        return 0;
    };
    let mut category = String::new();
    let mut seen = BTreeSet::new();
    let mut defaults = Properties::new();
    for n in ps.children().filter(|c| c.is_element()) {
        if n.has_tag_name((OVF_NS, "Category")) {
            category = n.text().unwrap_or_default().trim().to_owned();
            continue;
        }
        if !n.has_tag_name((OVF_NS, "Property")) {
            continue;
        }
        let a = |name: &str| n.attribute((OVF_NS, name)).unwrap_or_default();
        let key = a("key");
        let Some(spec) = schema::property(key) else {
            p.push(format!(
                "Property {key:?} is not in the configurator's schema"
            ));
            continue;
        };
        if !seen.insert(key.to_owned()) {
            p.push(format!("Property {key} declared twice"));
        }
        let expect = |what: &str, got: &str, want: &str, p: &mut Vec<String>| {
            if got != want {
                p.push(format!(
                    "Property {key}: {what} is {got:?}, schema says {want:?}"
                ));
            }
        };
        expect("ovf:type", a("type"), ovf::ovf_type(spec), p);
        expect(
            "ovf:userConfigurable",
            a("userConfigurable"),
            if spec.user_configurable {
                "true"
            } else {
                "false"
            },
            p,
        );
        expect(
            "ovf:password",
            a("password"),
            if spec.password { "true" } else { "" },
            p,
        );
        expect(
            "ovf:qualifiers",
            a("qualifiers"),
            &ovf::qualifiers(spec).unwrap_or_default(),
            p,
        );
        expect("category", &category, spec.category.label(), p);
        let text = |name: &str| {
            n.children()
                .find(|c| c.has_tag_name((OVF_NS, name)))
                .and_then(|c| c.text())
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        if text("Label").is_empty() || text("Description").is_empty() {
            p.push(format!("Property {key} lacks a Label or Description"));
        }
        let value = a("value");
        if spec.user_configurable {
            expect("default", value, spec.default, p);
        }
        if !value.is_empty()
            && let Err(e) = check_value(spec, value)
        {
            p.push(format!(
                "Property {key}: default {value:?} is refused by the configurator: {e}"
            ));
        }
        defaults.insert(key.to_owned(), value.to_owned());
    }
    for spec in PROPERTIES {
        if !seen.contains(spec.key) {
            p.push(format!(
                "schema property {} is missing from the descriptor",
                spec.key
            ));
        }
    }
    // Deployed with defaults only, the configurator must ask for exactly the bundle.
    match ApplianceConfig::from_properties(&defaults) {
        Err(ConfigErrors(errs))
            if errs
                == [PropertyError::Missing {
                    key: "stele.bundle",
                    label: "Replica bundle",
                }] => {}
        Err(e) => p.push(format!("defaults do not validate as expected: {e}")),
        Ok(_) => p.push("defaults validate without a replica bundle".into()),
    }
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovf::{DiskInput, descriptor};
    use crate::tar::tests::build;
    use crate::vmdk::tests::fake_vmdk;

    fn ova(mutate_ovf: impl Fn(String) -> String, swap: bool) -> Vec<u8> {
        let os = fake_vmdk(4096);
        let data = fake_vmdk(8192);
        let disks = vec![
            DiskInput {
                id: "os".into(),
                href: "s-os.vmdk".into(),
                file_size: os.len() as u64,
                capacity_bytes: 4096 * 512,
            },
            DiskInput {
                id: "data".into(),
                href: "s-data.vmdk".into(),
                file_size: data.len() as u64,
                capacity_bytes: 8192 * 512,
            },
        ];
        let ovf = mutate_ovf(descriptor("stele", "0.1.0", &disks));
        let dig = |b: &[u8]| manifest::sha256_hex(b).unwrap_or_default();
        let mf = manifest::render(&[
            manifest::Entry {
                name: "s.ovf".into(),
                sha256_hex: dig(ovf.as_bytes()),
            },
            manifest::Entry {
                name: "s-os.vmdk".into(),
                sha256_hex: dig(&os),
            },
            manifest::Entry {
                name: "s-data.vmdk".into(),
                sha256_hex: dig(&data),
            },
        ]);
        if swap {
            build(&[
                ("s.ovf", ovf.as_bytes()),
                ("s.mf", mf.as_bytes()),
                ("s-data.vmdk", &data),
                ("s-os.vmdk", &os),
            ])
        } else {
            build(&[
                ("s.ovf", ovf.as_bytes()),
                ("s.mf", mf.as_bytes()),
                ("s-os.vmdk", &os),
                ("s-data.vmdk", &data),
            ])
        }
    }

    fn problems(bytes: &[u8]) -> Vec<String> {
        match check_ova(bytes) {
            Ok(r) => r.problems,
            Err(e) => vec![e.to_string()],
        }
    }

    #[test]
    fn generated_ova_passes() {
        let bytes = ova(|s| s, false);
        let r = check_ova(&bytes[..]);
        assert!(
            matches!(&r, Ok(r) if r.problems.is_empty() && r.properties == PROPERTIES.len()),
            "{r:?}"
        );
    }

    #[test]
    fn wrong_member_order_is_caught() {
        assert!(
            problems(&ova(|s| s, true))
                .iter()
                .any(|p| p.contains("References in order"))
        );
    }

    #[test]
    fn wrong_capacity_and_size_are_caught() {
        let p = problems(&ova(
            |s| s.replace("ovf:capacity=\"2097152\"", "ovf:capacity=\"2097153\""),
            false,
        ));
        assert!(p.iter().any(|p| p.contains("capacity")), "{p:?}");
    }

    #[test]
    fn tampered_descriptor_fails_the_manifest_and_schema() {
        let p = problems(&ova(
            |s| s.replace("ovf:key=\"rpc.port\"", "ovf:key=\"rpc.prot\""),
            false,
        ));
        assert!(
            p.iter()
                .any(|p| p.contains("not in the configurator's schema")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|p| p.contains("missing from the descriptor")),
            "{p:?}"
        );
        let p = problems(&ova(
            |s| s.replace("ovf:value=\"8545\"", "ovf:value=\"80\""),
            false,
        ));
        assert!(
            p.iter().any(|p| p.contains("refused by the configurator")),
            "{p:?}"
        );
        let p = problems(&ova(|s| s.replace("VirtualSCSI", "lsilogic"), false));
        assert!(p.iter().any(|p| p.contains("pvscsi")), "{p:?}");
        let p = problems(&ova(|s| s.replace("</Envelope>", "</Envelop>"), false));
        assert!(p.iter().any(|p| p.contains("well-formed")), "{p:?}");
    }
}
