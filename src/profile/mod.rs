//! Profiles: named sets of behavioural attributes, one per TCP/IP stack.
//!
// STUB: replaced by the profiles branch. Only the API the probe needs, with
// three hardcoded profiles; `dirs` is ignored.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::craft::Volatile;
use crate::model::Attributes;

/// A named stack: its behavioural attributes and where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub source: String,
    pub os_family: Option<String>,
    pub attributes: Attributes,
}

impl Profile {
    /// The per-connection values for one SYN of this profile. The IP ID is
    /// derived from the sequence number (never 0: the kernel would fill a
    /// zero in on a header-including raw socket); TSval is the clock in ms.
    pub fn volatile(&self, src: SocketAddr, dst: SocketAddr, seq: u32, clock_ms: u64) -> Volatile {
        let id = (seq >> 16) as u16 ^ seq as u16;
        Volatile {
            src,
            dst,
            seq,
            ack: 0,
            ip_id: if id == 0 { 1 } else { id },
            flow_label: seq & 0xfffff,
            tsval: clock_ms as u32,
            tsecr: 0,
        }
    }
}

struct Builtin {
    name: &'static str,
    description: &'static str,
    os_family: &'static str,
    ttl: u8,
    window: u16,
    wscale: u8,
    sok: bool,
    layout: &'static str,
}

const BUILTINS: [Builtin; 3] = [
    Builtin {
        name: "linux",
        description: "Linux 6.x default SYN",
        os_family: "linux",
        ttl: 64,
        window: 64240,
        wscale: 7,
        sok: true,
        layout: "mss,sok,ts,nop,ws",
    },
    Builtin {
        name: "windows-10",
        description: "Windows 10 default SYN",
        os_family: "windows",
        ttl: 128,
        window: 64240,
        wscale: 8,
        sok: true,
        layout: "mss,nop,ws,nop,nop,sok",
    },
    Builtin {
        name: "macos-14",
        description: "macOS 14 default SYN",
        os_family: "macos",
        ttl: 64,
        window: 65535,
        wscale: 6,
        sok: true,
        layout: "mss,nop,ws,nop,nop,ts,sok,eol+1",
    },
];

fn build(b: &Builtin) -> Profile {
    let mut a = Attributes::new();
    a.insert("ip.ttl", b.ttl);
    a.insert("ip.flags.df", true);
    a.insert("tcp.window_size_value", b.window);
    a.insert("tcp.options.mss_val", 1460u16);
    a.insert("tcp.options.wscale.shift", b.wscale);
    if b.sok {
        a.insert("tcp.options.sack_perm", true);
    }
    a.insert("synlab.options.layout", b.layout);
    Profile {
        name: b.name.into(),
        description: b.description.into(),
        source: "built-in".into(),
        os_family: Some(b.os_family.into()),
        attributes: a,
    }
}

/// Every profile: the built-in ones.
pub fn list(_dirs: &[PathBuf]) -> Result<Vec<Profile>> {
    Ok(BUILTINS.iter().map(build).collect())
}

/// A profile by name.
pub fn resolve(spec: &str, dirs: &[PathBuf]) -> Result<Profile> {
    let all = list(dirs)?;
    match all.iter().find(|p| p.name == spec) {
        Some(p) => Ok(p.clone()),
        None => {
            let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
            bail!("no profile named {spec:?} (known: {})", names.join(", "))
        }
    }
}
