//! The stele appliance: the first-boot configurator that runs inside the VM, and the OVA
//! tooling (descriptor, manifest, static checker) that builds and checks the image.
//!
//! Both halves share one property schema (`schema`), so the "Customize template" page that
//! vCenter renders from the descriptor and the validation inside the guest cannot drift apart.
//!
//! Module map:
//! - `schema`   the deployment properties: keys, labels, descriptions, kinds, defaults
//! - `ovfenv`   parse (and write) the OVF environment document
//! - `source`   find the environment in the guest: guestinfo, CD-ROM, guestinfo.<key>
//! - `bundle`   the replica bundle (config + keys from `stele init --appliance`)
//! - `config`   strict validation into a typed `ApplianceConfig`
//! - `render`   the files the appliance needs, as data (networkd, timesyncd, nftables, …)
//! - `apply`    idempotent, atomic writing of those files
//! - `ovf`      the OVF 1.x descriptor generator
//! - `manifest` `SHA256(name)= hex` manifest lines
//! - `vmdk`     sparse VMDK header reading (capacity, subformat)
//! - `tar`      USTAR member reading for the checker
//! - `check`    the static checker of a built OVA
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod apply;
pub mod bundle;
pub mod check;
pub mod config;
pub mod manifest;
pub mod ovf;
pub mod ovfenv;
pub mod render;
pub mod schema;
pub mod source;
pub mod tar;
pub mod vmdk;

/// The appliance version (the workspace version), shown in the banner and the descriptor.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
