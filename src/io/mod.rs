//! I/O at the edge: capture files in and out.

pub mod capture_file;

pub mod load;

pub mod pcap_writer;
