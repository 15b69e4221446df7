//! STUB: replaced by the profiles branch.
//!
//! Just enough of the profile API for `synlab bisect` to name two built-in
//! profiles; the lead drops this file at merge in favour of the real one.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::model::Attributes;

/// A named set of behavioural SYN attributes.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub source: String,
    pub os_family: Option<String>,
    pub attributes: Attributes,
}

/// A profile by name (STUB: only `linux` and `windows-10`; no files).
pub fn resolve(spec: &str, _dirs: &[PathBuf]) -> Result<Profile> {
    let mut a = Attributes::new();
    let (description, family) = match spec {
        "linux" => {
            a.insert("ip.ttl", 64u8);
            a.insert("ip.flags.df", true);
            a.insert("tcp.window_size_value", 64240u16);
            a.insert("tcp.options.mss_val", 1460u16);
            a.insert("tcp.options.sack_perm", true);
            a.insert("tcp.options.wscale.shift", 7u8);
            a.insert("synlab.options.layout", "mss,sok,ts,nop,ws");
            ("Linux 5.x/6.x defaults", "linux")
        }
        "windows-10" => {
            a.insert("ip.ttl", 128u8);
            a.insert("ip.flags.df", true);
            a.insert("tcp.window_size_value", 64240u16);
            a.insert("tcp.options.mss_val", 1460u16);
            a.insert("tcp.options.wscale.shift", 8u8);
            a.insert("tcp.options.sack_perm", true);
            a.insert("synlab.options.layout", "mss,nop,ws,nop,nop,sok");
            ("Windows 10 defaults", "windows")
        }
        other => bail!("unknown profile {other:?} (this build knows linux and windows-10)"),
    };
    Ok(Profile {
        name: spec.to_owned(),
        description: description.to_owned(),
        source: "built-in".to_owned(),
        os_family: Some(family.to_owned()),
        attributes: a,
    })
}
