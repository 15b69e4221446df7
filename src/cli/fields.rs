//! `handshakes --fields a,b,c`: one tab-separated line per attempt, as
//! `tshark -T fields -e a -e b -e c` prints one per packet, so the shell
//! habits that work on tshark's output (cut, sort, uniq -c, awk) work here.
//!
//! Values are printed as tshark prints them: booleans `1`/`0`, numbers in
//! decimal, text as is, and nothing for an absent value.

use std::io::{self, Write};

use crate::columns::{Cell, Column, ColumnError};
use crate::handshake::Attempt;

/// The columns asked for, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldList(pub Vec<Column>);

impl std::str::FromStr for FieldList {
    type Err = ColumnError;

    /// `a,b,c` (spaces around names allowed, as in `-e a -e b`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(|name| name.trim().parse::<Column>())
            .collect::<Result<Vec<_>, _>>()
            .map(FieldList)
    }
}

impl FieldList {
    /// Attempt `index`'s line, without the newline.
    pub fn format_row(&self, index: usize, a: &Attempt) -> String {
        let cells: Vec<String> = self
            .0
            .iter()
            .map(|c| c.value(index, a).map_or_else(String::new, render))
            .collect();
        cells.join("\t")
    }

    /// One line per attempt, with its index in the file.
    pub fn write<'a>(
        &self,
        attempts: impl Iterator<Item = (usize, &'a Attempt)>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        for (index, a) in attempts {
            writeln!(out, "{}", self.format_row(index, a))?;
        }
        Ok(())
    }
}

/// A value as tshark prints it. A tab or newline inside text (none of
/// synlab's values has one) would break the columns: shown as a space.
fn render(cell: Cell) -> String {
    match cell {
        Cell::Bool(b) => u8::from(b).to_string(),
        Cell::Int(n) => n.to_string(),
        Cell::Float(x) => format!("{x:.3}"),
        Cell::Text(s) => s.replace(['\t', '\n', '\r'], " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_parses_in_order_and_a_typo_is_refused() {
        let list: FieldList = " ip.ttl, syn_ack.tcp.window_size_value ,synlab.attempt.outcome"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = list.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "ip.ttl",
                "syn_ack.tcp.window_size_value",
                "synlab.attempt.outcome"
            ]
        );
        let err = "ip.ttl,tcp.window_sise_value"
            .parse::<FieldList>()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown attribute \"tcp.window_sise_value\" (did you mean tcp.window_size_value?)"
            )
        );
        assert!("ip.ttl,,ip.id".parse::<FieldList>().is_err());
    }

    #[test]
    fn values_print_as_tshark_prints_them() {
        assert_eq!(render(Cell::Bool(true)), "1");
        assert_eq!(render(Cell::Bool(false)), "0");
        assert_eq!(render(Cell::Int(1460)), "1460");
        assert_eq!(render(Cell::Float(0.25)), "0.250");
        assert_eq!(render(Cell::Text("mss,sok".into())), "mss,sok");
        assert_eq!(render(Cell::Text("a\tb".into())), "a b");
    }
}
