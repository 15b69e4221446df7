//! `synlab craft`: SYNs from a profile into a pcap file.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use super::edit_args::EditArgs;
use super::status::Status;
use crate::io::pcap_writer::PcapOut;
use crate::model::craft::ethernet_frame;
use crate::model::edit::describe;

/// Locally administered MACs for crafted frames.
pub const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x02];

/// First source port when `--src` has none.
const DEFAULT_SPORT: u16 = 40000;

/// `IP`, `IP:PORT` or `[IPv6]:PORT`.
fn parse_src(s: &str) -> Result<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let ip: IpAddr = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| format!("--src {s}: not IP or IP:PORT"))?;
    Ok(SocketAddr::new(ip, DEFAULT_SPORT))
}

/// How craft words the flags it shares with `probe`: its edits make SYNs
/// that are written, not sent.
pub fn words(arg: clap::Arg) -> clap::Arg {
    match arg.get_id().as_str() {
        "set" => arg.help(
            "Change one of the profile's attributes (NAME=VALUE; repeatable), \
             as `synlab probe --set`; tcp.srcport is the first SYN's source port",
        ),
        "unset" => arg
            .help("Remove one of the profile's attributes (repeatable), as `synlab probe --unset`"),
        _ => arg,
    }
}

/// What `synlab craft` writes.
pub struct Job<'a> {
    /// A profile name or file.
    pub spec: &'a str,
    /// `IP` or `IP:PORT`.
    pub src: &'a str,
    pub dst: SocketAddr,
    pub path: &'a Path,
    pub count: u16,
    /// `--set` and `--unset`.
    pub edit: &'a EditArgs,
}

pub fn run(job: &Job<'_>, dirs: &[PathBuf], out: &mut dyn Write) -> Result<Status> {
    let (dst, count) = (job.dst, job.count);
    let mut p = crate::io::profile_store::resolve(job.spec, dirs)?;
    let mut src = parse_src(job.src)?;
    if src.is_ipv6() != dst.is_ipv6() {
        bail!("--src {src} and --dst {dst} are not the same IP version");
    }
    let edited = job.edit.apply(&p.attributes, dst.is_ipv6())?;
    p.attributes = edited.attributes;
    if let Some(port) = edited.first_port {
        src.set_port(port);
    }
    let Some(last) = src.port().checked_add(count - 1) else {
        bail!(
            "--count {count} from source port {} runs past port 65535",
            src.port()
        );
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Sequence numbers step by 2^16 and never wrap within one file.
    let span = u32::from(count) << 16;
    let seq0: u32 = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=u32::MAX - span);
    let clock0 = now.as_millis() as u32;
    let mut pcap = PcapOut::create(job.path, 1)?;
    for i in 0..count {
        let from = SocketAddr::new(src.ip(), src.port() + i);
        let seq = seq0 + (u32::from(i) << 16);
        let ip = p
            .craft(from, dst, seq, clock0.wrapping_add(u32::from(i)))
            .with_context(|| format!("profile {}", p.name))?;
        let frame = ethernet_frame(&ip, SRC_MAC, DST_MAC);
        pcap.write(now + Duration::from_millis(i.into()), &frame)?;
    }
    pcap.finish()?;
    let with = if edited.changes.is_empty() {
        String::new()
    } else {
        format!(" with {}", describe(&edited.changes, &p.attributes))
    };
    writeln!(
        out,
        "{}: {count} SYN{} from profile {}{with} ({} -> {dst}, source ports {}-{last})",
        job.path.display(),
        if count == 1 { "" } else { "s" },
        p.name,
        src.ip(),
        src.port(),
    )?;
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn src_with_and_without_port() {
        assert_eq!(parse_src("198.18.0.1").unwrap().port(), DEFAULT_SPORT);
        assert_eq!(parse_src("198.18.0.1:1234").unwrap().port(), 1234);
        assert_eq!(parse_src("[fd00::1]:5").unwrap().port(), 5);
        assert!(parse_src("fd00::1").unwrap().is_ipv6());
        assert!(parse_src("nope").is_err());
    }
}
