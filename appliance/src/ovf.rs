//! Generating the OVF 1.x descriptor of the appliance from the property schema and the disks.
//!
//! What vSphere insists on (design note §1): OVF 1.x namespaces, `vmx-17`, EFI firmware with
//! Secure Boot off, a pvscsi controller (`VirtualSCSI`; Debian's cloud kernel has no LSI Logic
//! driver), a `VmxNet3` NIC, an IDE CD-ROM for the `iso` transport, `ovf:transport="com.vmware.guestInfo iso"`,
//! streamOptimized disks whose `File` sizes and `Disk` capacities are the real ones, and the
//! ProductSection rendered from `schema::PROPERTIES`. RASD children are written in the
//! alphabetical order the CIM schema's sequence requires.

use std::fmt::Write as _;

use crate::ovfenv::xml_escape as esc;
use crate::schema::{Kind, PROPERTIES, PropertySpec, Requirement};

/// OVF 1.x envelope namespace.
pub const OVF_NS: &str = "http://schemas.dmtf.org/ovf/envelope/1";
/// CIM RASD namespace.
pub const RASD_NS: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
/// CIM VSSD namespace.
pub const VSSD_NS: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";
/// VMware's OVF extensions.
pub const VMW_NS: &str = "http://www.vmware.com/schema/ovf";
/// The streamOptimized VMDK format URI.
pub const VMDK_STREAM_FORMAT: &str =
    "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized";
/// Virtual hardware version: vmx-17 = ESXi 7.0 and later.
pub const HARDWARE_VERSION: &str = "vmx-17";
/// Both transports: guestinfo for VMware Tools, the ISO for anything that reads a CD.
pub const TRANSPORT: &str = "com.vmware.guestInfo iso";
/// The logical network the NIC connects to (mapped to a port group in the wizard).
pub const NETWORK_NAME: &str = "VM Network";
/// Default vCPUs.
pub const CPUS: u32 = 2;
/// Default memory in MiB.
pub const MEMORY_MIB: u32 = 4096;

/// One disk of the appliance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskInput {
    /// `ovf:diskId` (`os` or `data`).
    pub id: String,
    /// Member name in the OVA.
    pub href: String,
    /// Byte size of the VMDK file.
    pub file_size: u64,
    /// Virtual capacity in bytes (from the VMDK header).
    pub capacity_bytes: u64,
}

/// Renders the `ovf:qualifiers` for a property, or None.
pub fn qualifiers(p: &PropertySpec) -> Option<String> {
    match p.kind {
        Kind::Choice(words) => Some(format!(
            "ValueMap{{{}}}",
            words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(",")
        )),
        Kind::Port => Some("MinValue(1024) MaxValue(65535)".to_owned()),
        _ => {
            let min = if p.requirement == Requirement::Always {
                " MinLen(1)"
            } else {
                ""
            };
            Some(format!("MaxLen({}){min}", p.max_len).trim().to_owned())
        }
    }
}

/// The `ovf:type` of a property.
pub fn ovf_type(p: &PropertySpec) -> &'static str {
    match p.kind {
        Kind::Port => "uint16",
        _ => "string",
    }
}

/// Renders the whole descriptor.
pub fn descriptor(name: &str, version: &str, disks: &[DiskInput]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        s,
        "<Envelope xmlns=\"{OVF_NS}\" xmlns:ovf=\"{OVF_NS}\" xmlns:rasd=\"{RASD_NS}\" xmlns:vssd=\"{VSSD_NS}\" \
         xmlns:vmw=\"{VMW_NS}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:cim=\"http://schemas.dmtf.org/wbem/wscim/1/common\">"
    );
    s.push_str("  <References>\n");
    for (i, d) in disks.iter().enumerate() {
        let _ = writeln!(
            s,
            "    <File ovf:id=\"file{}\" ovf:href=\"{}\" ovf:size=\"{}\"/>",
            i + 1,
            esc(&d.href),
            d.file_size
        );
    }
    s.push_str("  </References>\n  <DiskSection>\n    <Info>Virtual disks: a read-only OS disk and the data disk (config, chain, logs)</Info>\n");
    for (i, d) in disks.iter().enumerate() {
        let _ = writeln!(
            s,
            "    <Disk ovf:diskId=\"{}\" ovf:fileRef=\"file{}\" ovf:capacity=\"{}\" ovf:capacityAllocationUnits=\"byte\" ovf:format=\"{VMDK_STREAM_FORMAT}\"/>",
            esc(&d.id),
            i + 1,
            d.capacity_bytes
        );
    }
    s.push_str("  </DiskSection>\n");
    let _ = writeln!(
        s,
        "  <NetworkSection>\n    <Info>The logical network of the replica</Info>\n    <Network ovf:name=\"{NETWORK_NAME}\">\n      <Description>Network on which the replica serves JSON-RPC over TLS and reaches the other replicas</Description>\n    </Network>\n  </NetworkSection>"
    );
    let _ = writeln!(s, "  <VirtualSystem ovf:id=\"{}\">", esc(name));
    let _ = writeln!(
        s,
        "    <Info>A stele replica: permissioned Ethereum-compatible node (SBFT)</Info>\n    <Name>{}</Name>",
        esc(name)
    );
    s.push_str(
        "    <AnnotationSection>\n      <Info>Description shown in vCenter</Info>\n      <Annotation>stele replica appliance. Deploy one VM per replica, fill in the properties, power on. Guide: docs/operator/appliance.md</Annotation>\n    </AnnotationSection>\n",
    );
    s.push_str(
        "    <OperatingSystemSection ovf:id=\"96\" vmw:osType=\"debian11_64Guest\">\n      <Info>Guest operating system</Info>\n      <Description>Debian GNU/Linux 12 (64-bit)</Description>\n    </OperatingSystemSection>\n",
    );
    hardware(&mut s, name, disks);
    product(&mut s, version);
    s.push_str("  </VirtualSystem>\n</Envelope>\n");
    s
}

fn item(s: &mut String, required: bool, fields: &[(&str, String)]) {
    s.push_str(if required {
        "      <Item>\n"
    } else {
        "      <Item ovf:required=\"false\">\n"
    });
    let mut sorted: Vec<&(&str, String)> = fields.iter().collect();
    sorted.sort_by_key(|(k, _)| *k);
    for (k, v) in sorted {
        let _ = writeln!(s, "        <rasd:{k}>{}</rasd:{k}>", esc(v));
    }
    s.push_str("      </Item>\n");
}

fn hardware(s: &mut String, name: &str, disks: &[DiskInput]) {
    let _ = writeln!(
        s,
        "    <VirtualHardwareSection ovf:transport=\"{TRANSPORT}\">"
    );
    s.push_str("      <Info>Virtual hardware requirements</Info>\n      <System>\n");
    let _ = writeln!(
        s,
        "        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n        <vssd:InstanceID>0</vssd:InstanceID>\n        <vssd:VirtualSystemIdentifier>{}</vssd:VirtualSystemIdentifier>\n        <vssd:VirtualSystemType>{HARDWARE_VERSION}</vssd:VirtualSystemType>\n      </System>",
        esc(name)
    );
    let t = |v: &str| v.to_owned();
    item(
        s,
        true,
        &[
            ("AllocationUnits", t("hertz * 10^6")),
            ("Description", t("Number of virtual CPUs")),
            ("ElementName", format!("{CPUS} virtual CPU(s)")),
            ("InstanceID", t("1")),
            ("ResourceType", t("3")),
            ("VirtualQuantity", CPUS.to_string()),
        ],
    );
    item(
        s,
        true,
        &[
            ("AllocationUnits", t("byte * 2^20")),
            ("Description", t("Memory size")),
            ("ElementName", format!("{MEMORY_MIB} MB of memory")),
            ("InstanceID", t("2")),
            ("ResourceType", t("4")),
            ("VirtualQuantity", MEMORY_MIB.to_string()),
        ],
    );
    item(
        s,
        true,
        &[
            ("Address", t("0")),
            ("Description", t("SCSI controller (VMware Paravirtual)")),
            ("ElementName", t("SCSI controller 0")),
            ("InstanceID", t("3")),
            ("ResourceSubType", t("VirtualSCSI")),
            ("ResourceType", t("6")),
        ],
    );
    item(
        s,
        true,
        &[
            ("Address", t("0")),
            ("Description", t("IDE controller")),
            ("ElementName", t("IDE controller 0")),
            ("InstanceID", t("4")),
            ("ResourceType", t("5")),
        ],
    );
    item(
        s,
        false,
        &[
            ("AddressOnParent", t("0")),
            ("AutomaticAllocation", t("false")),
            ("ElementName", t("CD/DVD drive 1 (OVF environment)")),
            ("InstanceID", t("5")),
            ("Parent", t("4")),
            ("ResourceSubType", t("vmware.cdrom.remotepassthrough")),
            ("ResourceType", t("15")),
        ],
    );
    let mut instance = 6;
    for (unit, d) in disks.iter().enumerate() {
        item(
            s,
            true,
            &[
                ("AddressOnParent", unit.to_string()),
                ("ElementName", format!("Hard disk {} ({})", unit + 1, d.id)),
                ("HostResource", format!("ovf:/disk/{}", d.id)),
                ("InstanceID", instance.to_string()),
                ("Parent", t("3")),
                ("ResourceType", t("17")),
            ],
        );
        instance += 1;
    }
    item(
        s,
        true,
        &[
            ("AddressOnParent", t("7")),
            ("AutomaticAllocation", t("true")),
            ("Connection", t(NETWORK_NAME)),
            (
                "Description",
                format!("VmxNet3 ethernet adapter on \"{NETWORK_NAME}\""),
            ),
            ("ElementName", t("Network adapter 1")),
            ("InstanceID", instance.to_string()),
            ("ResourceSubType", t("VmxNet3")),
            ("ResourceType", t("10")),
        ],
    );
    item(
        s,
        false,
        &[
            ("AutomaticAllocation", t("false")),
            ("ElementName", t("Video card")),
            ("InstanceID", (instance + 1).to_string()),
            ("ResourceType", t("24")),
        ],
    );
    item(
        s,
        false,
        &[
            ("AutomaticAllocation", t("false")),
            ("ElementName", t("VMCI device")),
            ("InstanceID", (instance + 2).to_string()),
            ("ResourceSubType", t("vmware.vmci")),
            ("ResourceType", t("1")),
        ],
    );
    for (k, v) in [
        ("firmware", "efi"),
        ("bootOptions.efiSecureBootEnabled", "false"),
        ("tools.syncTimeWithHost", "false"),
        ("tools.afterPowerOn", "true"),
        ("tools.afterResume", "true"),
        ("tools.beforeGuestShutdown", "true"),
        ("powerOpInfo.powerOffType", "soft"),
        ("powerOpInfo.resetType", "soft"),
        ("powerOpInfo.suspendType", "hard"),
    ] {
        let _ = writeln!(
            s,
            "      <vmw:Config ovf:required=\"false\" vmw:key=\"{k}\" vmw:value=\"{v}\"/>"
        );
    }
    s.push_str("    </VirtualHardwareSection>\n");
}

fn product(s: &mut String, version: &str) {
    let _ = writeln!(
        s,
        "    <ProductSection>\n      <Info>stele replica settings</Info>\n      <Product>stele</Product>\n      <Vendor>stele</Vendor>\n      <Version>{0}</Version>\n      <FullVersion>{0}</FullVersion>",
        esc(version)
    );
    let mut category = None;
    for p in PROPERTIES {
        if category != Some(p.category) {
            let _ = writeln!(s, "      <Category>{}</Category>", esc(p.category.label()));
            category = Some(p.category);
        }
        let value = if p.key == "appliance.version" {
            version
        } else {
            p.default
        };
        let _ = write!(
            s,
            "      <Property ovf:key=\"{}\" ovf:type=\"{}\" ovf:userConfigurable=\"{}\" ovf:value=\"{}\"",
            esc(p.key),
            ovf_type(p),
            p.user_configurable,
            esc(value)
        );
        if p.password {
            s.push_str(" ovf:password=\"true\"");
        }
        if let Some(q) = qualifiers(p) {
            let _ = write!(s, " ovf:qualifiers=\"{}\"", esc(&q));
        }
        let _ = writeln!(
            s,
            ">\n        <Label>{}</Label>\n        <Description>{}</Description>\n      </Property>",
            esc(p.label),
            esc(p.description)
        );
    }
    s.push_str("    </ProductSection>\n");
}
