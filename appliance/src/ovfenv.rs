//! Parsing (and, for tests and the boot test, writing) the OVF environment document.
//!
//! vCenter builds `<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1">` with a
//! `PropertySection` of `<Property oe:key=… oe:value=…/>` at power-on and hands it to the guest
//! as `guestinfo.ovfEnv` or as `ovf-env.xml` on a CD (DSP0243 §11). The parser is strict: a
//! size cap, no DTD (roxmltree refuses it by default, so no entity expansion), the right root
//! element and namespace, and no duplicate keys.

use std::collections::BTreeMap;

/// The OVF environment namespace.
pub const OVF_ENV_NS: &str = "http://schemas.dmtf.org/ovf/environment/1";
/// Largest environment document we read. Property values are capped by vCenter at 64 KiB
/// each; ours add up to well under this.
pub const OVF_ENV_BYTES_MAX: usize = 1024 * 1024;

/// Why an OVF environment document was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OvfEnvError {
    /// Larger than [`OVF_ENV_BYTES_MAX`].
    #[error("OVF environment is {len} bytes, more than the {OVF_ENV_BYTES_MAX} allowed")]
    TooLarge {
        /// Length of the document.
        len: usize,
    },
    /// Not well-formed XML (or has a DTD).
    #[error("OVF environment is not well-formed XML: {0}")]
    Xml(String),
    /// Root element is not `Environment` in the OVF environment namespace.
    #[error("OVF environment root is <{found}>, expected <Environment xmlns=\"{OVF_ENV_NS}\">")]
    Root {
        /// The root's name as found.
        found: String,
    },
    /// A `Property` without `oe:key` or `oe:value`.
    #[error("OVF environment Property #{index} has no oe:{attribute} attribute")]
    PropertyAttribute {
        /// 1-based position among the properties.
        index: usize,
        /// The missing attribute.
        attribute: &'static str,
    },
    /// The same key twice.
    #[error("OVF environment sets property {key} twice")]
    Duplicate {
        /// The repeated key.
        key: String,
    },
}

/// Key/value pairs from the environment's top-level `PropertySection`.
pub type Properties = BTreeMap<String, String>;

/// Parses an OVF environment document into its properties.
pub fn parse(xml: &str) -> Result<Properties, OvfEnvError> {
    if xml.len() > OVF_ENV_BYTES_MAX {
        return Err(OvfEnvError::TooLarge { len: xml.len() });
    }
    let doc = roxmltree::Document::parse(xml).map_err(|e| OvfEnvError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Environment" || root.tag_name().namespace() != Some(OVF_ENV_NS) {
        return Err(OvfEnvError::Root {
            found: format!(
                "{}{}",
                root.tag_name()
                    .namespace()
                    .map(|n| format!("{{{n}}}"))
                    .unwrap_or_default(),
                root.tag_name().name()
            ),
        });
    }
    let mut props = Properties::new();
    let mut index = 0;
    // Only the top-level PropertySection: nested Entity elements (vApp children) belong to
    // other virtual systems.
    let sections = root
        .children()
        .filter(|n| n.is_element() && n.has_tag_name((OVF_ENV_NS, "PropertySection")));
    for section in sections {
        for prop in section.children().filter(|n| n.is_element()) {
            if !prop.has_tag_name((OVF_ENV_NS, "Property")) {
                continue;
            }
            index += 1;
            let key =
                prop.attribute((OVF_ENV_NS, "key"))
                    .ok_or(OvfEnvError::PropertyAttribute {
                        index,
                        attribute: "key",
                    })?;
            let value =
                prop.attribute((OVF_ENV_NS, "value"))
                    .ok_or(OvfEnvError::PropertyAttribute {
                        index,
                        attribute: "value",
                    })?;
            if props.insert(key.to_owned(), value.to_owned()).is_some() {
                return Err(OvfEnvError::Duplicate {
                    key: key.to_owned(),
                });
            }
        }
    }
    Ok(props)
}

/// Writes an OVF environment document as vCenter does (used by the boot test's ISO and by
/// tests). Values are XML-escaped.
pub fn render(props: &Properties) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<Environment xmlns=\"{OVF_ENV_NS}\" xmlns:oe=\"{OVF_ENV_NS}\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:ve=\"http://www.vmware.com/schema/ovfenv\" oe:id=\"\">\n"
    ));
    out.push_str("  <PlatformSection>\n    <Kind>stele boot test</Kind>\n  </PlatformSection>\n");
    out.push_str("  <PropertySection>\n");
    for (k, v) in props {
        out.push_str(&format!(
            "    <Property oe:key=\"{}\" oe:value=\"{}\"/>\n",
            xml_escape(k),
            xml_escape(v)
        ));
    }
    out.push_str("  </PropertySection>\n</Environment>\n");
    out
}

/// Escapes text for an XML attribute value (also used by the OVF descriptor writer).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like what vCenter delivers (trimmed): platform info, properties, and VMware's
    /// ethernet section in its own namespace.
    const VCENTER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Environment
     xmlns="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"
     xmlns:ve="http://www.vmware.com/schema/ovfenv"
     oe:id=""
     ve:vCenterId="vm-42">
   <PlatformSection>
      <Kind>VMware ESXi</Kind>
      <Version>8.0.2</Version>
      <Vendor>VMware, Inc.</Vendor>
      <Locale>en</Locale>
   </PlatformSection>
   <PropertySection>
         <Property oe:key="net.mode" oe:value="static"/>
         <Property oe:key="net.address" oe:value="10.0.0.5/24"/>
         <Property oe:key="ntp.servers" oe:value="a&amp;b"/>
   </PropertySection>
   <ve:EthernetAdapterSection>
      <ve:Adapter ve:mac="00:50:56:aa:bb:cc" ve:network="VM Network" ve:unitNumber="7"/>
   </ve:EthernetAdapterSection>
</Environment>"#;

    #[test]
    fn parses_vcenter_document() {
        let p = parse(VCENTER).map_err(|e| e.to_string());
        let p = p.as_ref().map(|m| m.len());
        assert_eq!(p, Ok(3));
        let p = parse(VCENTER).unwrap_or_default();
        assert_eq!(p.get("net.mode").map(String::as_str), Some("static"));
        assert_eq!(p.get("ntp.servers").map(String::as_str), Some("a&b"));
    }

    #[test]
    fn render_round_trips_awkward_values() {
        let mut p = Properties::new();
        p.insert("a".into(), "<&>\"'\n\tx".into());
        p.insert("b".into(), String::new());
        assert_eq!(parse(&render(&p)), Ok(p));
    }

    #[test]
    fn rejects_malformed_xml() {
        assert!(matches!(parse("<Environment"), Err(OvfEnvError::Xml(_))));
        assert!(matches!(parse(""), Err(OvfEnvError::Xml(_))));
        assert!(matches!(parse("not xml at all"), Err(OvfEnvError::Xml(_))));
        let mismatched = format!("<Environment xmlns=\"{OVF_ENV_NS}\"></Env>");
        assert!(matches!(parse(&mismatched), Err(OvfEnvError::Xml(_))));
    }

    #[test]
    fn rejects_dtd_and_entities() {
        let laughs = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]>\
             <Environment xmlns=\"{OVF_ENV_NS}\"/>"
        );
        assert!(matches!(parse(&laughs), Err(OvfEnvError::Xml(_))));
    }

    #[test]
    fn rejects_wrong_root_and_namespace() {
        assert!(matches!(
            parse("<Environment/>"),
            Err(OvfEnvError::Root { .. })
        ));
        let other = format!("<Envelope xmlns=\"{OVF_ENV_NS}\"/>");
        assert!(matches!(parse(&other), Err(OvfEnvError::Root { .. })));
    }

    #[test]
    fn rejects_bad_properties() {
        let no_value = format!(
            "<Environment xmlns=\"{OVF_ENV_NS}\" xmlns:oe=\"{OVF_ENV_NS}\"><PropertySection>\
             <Property oe:key=\"a\"/></PropertySection></Environment>"
        );
        assert_eq!(
            parse(&no_value),
            Err(OvfEnvError::PropertyAttribute {
                index: 1,
                attribute: "value"
            })
        );
        // An un-namespaced key attribute is not oe:key.
        let plain = format!(
            "<Environment xmlns=\"{OVF_ENV_NS}\"><PropertySection>\
             <Property key=\"a\" value=\"b\"/></PropertySection></Environment>"
        );
        assert_eq!(
            parse(&plain),
            Err(OvfEnvError::PropertyAttribute {
                index: 1,
                attribute: "key"
            })
        );
        let dup = format!(
            "<Environment xmlns=\"{OVF_ENV_NS}\" xmlns:oe=\"{OVF_ENV_NS}\"><PropertySection>\
             <Property oe:key=\"a\" oe:value=\"1\"/><Property oe:key=\"a\" oe:value=\"2\"/>\
             </PropertySection></Environment>"
        );
        assert_eq!(parse(&dup), Err(OvfEnvError::Duplicate { key: "a".into() }));
    }

    #[test]
    fn rejects_oversized_document() {
        let big = " ".repeat(OVF_ENV_BYTES_MAX + 1);
        assert!(matches!(parse(&big), Err(OvfEnvError::TooLarge { .. })));
    }
}
