//! Networks of client addresses, such as the proxies whose `X-Forwarded-For` is believed.

use std::net::IpAddr;

/// A network such as `10.0.0.0/8` or `::1/128`; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// # Errors
    /// When the text is not an address with an optional prefix length that fits it.
    pub fn parse(v: &str) -> Result<Self, String> {
        let err = || format!("{v:?} is not a CIDR such as 10.0.0.0/8 or ::1/128");
        let (addr, prefix) = match v.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (v, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| err())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        Ok(Self {
            network: mask(ip, prefix),
            prefix,
        })
    }

    /// Whether `ip` lies in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match_their_networks_only() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let host = Cidr::parse("::1").unwrap();
        assert!(host.contains("::1".parse().unwrap()));
        assert!(!host.contains("::2".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x"] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
