//! An IP → ASN table given by the operator (`--asn-table FILE`), for the routing-diversity fact
//! of a zone's nameservers. postura ships no table and looks nothing up: the file is one
//! `PREFIX ASN` pair per line (whitespace or comma separated, `#` comments), e.g. from a
//! route-views or RIR dump, and the longest matching prefix wins.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct AsnTable {
    /// Sorted longest prefix first, so the first match is the most specific.
    entries: Vec<(IpNet, u32)>,
}

impl AsnTable {
    pub fn parse(text: &str) -> Result<AsnTable, String> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> =
                line.split(|c: char| c == ',' || c.is_whitespace()).filter(|f| !f.is_empty()).collect();
            let [prefix, asn] = fields.as_slice() else {
                return Err(format!("line {}: expected 'PREFIX ASN', got '{line}'", index + 1));
            };
            let prefix: IpNet =
                prefix.parse().map_err(|_| format!("line {}: '{prefix}' is not a prefix", index + 1))?;
            let asn: u32 = asn
                .trim_start_matches("AS")
                .parse()
                .map_err(|_| format!("line {}: '{asn}' is not an AS number", index + 1))?;
            entries.push((prefix.trunc(), asn));
        }
        entries.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.prefix_len()));
        Ok(AsnTable { entries })
    }

    /// The AS originating the most specific prefix holding `address`.
    pub fn lookup(&self, address: IpAddr) -> Option<u32> {
        self.entries.iter().find(|(prefix, _)| prefix.contains(&address)).map(|(_, asn)| *asn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let table =
            AsnTable::parse("# comment\n127.0.0.0/8 64500\n127.0.21.0/24,AS64501\n2001:db8::/32 64502\n").unwrap();
        assert_eq!(table.lookup("127.0.21.1".parse().unwrap()), Some(64501));
        assert_eq!(table.lookup("127.0.22.1".parse().unwrap()), Some(64500));
        assert_eq!(table.lookup("2001:db8::53".parse().unwrap()), Some(64502));
        assert_eq!(table.lookup("192.0.2.1".parse().unwrap()), None);
        assert!(AsnTable::parse("127.0.0.0/8").is_err());
        assert!(AsnTable::parse("nope 1").is_err());
        assert!(AsnTable::parse("127.0.0.0/8 ASx").is_err());
    }
}
