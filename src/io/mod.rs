//! I/O at the edge: capture files in and out, raw sockets, privileges,
//! nftables, and the live probe driver.

pub mod capture_file;

pub mod input;
pub mod interrupt;
pub mod live;
pub mod live_oracle;
pub mod load;
pub mod merge;
pub mod profile_store;
pub mod read_file;

pub mod nft;
pub mod output;
pub mod parallel;
pub mod parquet_dataset;
pub mod parquet_out;
pub mod parquet_rows;
pub mod pcap_writer;
pub mod pcapng_writer;
pub mod privilege;
pub mod raw;
