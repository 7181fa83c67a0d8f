//! Subnets of user-defined networks: Docker's `--default-address-pool`
//! (a base range cut into subnets of one size), and choosing the first
//! subnet that neither another network nor a route of the host already
//! covers, as Docker does.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 subnet: its network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

impl Subnet {
    /// `10.1.0.0/16`; host bits must be zero, as Docker asks.
    pub fn parse(s: &str) -> Result<Subnet> {
        let bad = || {
            Error::invalid(format!(
                "invalid subnet {s:?}: want an IPv4 CIDR such as 10.1.0.0/24"
            ))
        };
        let (a, len) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix_len: u8 = len.parse().map_err(|_| bad())?;
        if prefix_len > 32 {
            return Err(bad());
        }
        let n = Subnet { addr, prefix_len };
        if n.network() != addr {
            return Err(Error::invalid(format!(
                "invalid subnet {s}: it has host bits set (did you mean {}?)",
                Subnet {
                    addr: n.network(),
                    prefix_len
                }
            )));
        }
        Ok(n)
    }

    pub fn mask(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len)
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The first host address: Docker's default gateway.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) + 1)
    }

    /// Is `ip` usable by a host of this subnet (not its network or broadcast address)?
    pub fn is_host(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network() && ip != self.broadcast()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// One `--default-address-pool`: `base` cut into subnets of `/size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub base: Subnet,
    pub size: u8,
}

impl Pool {
    /// Docker's syntax: `base=10.10.0.0/16,size=24`.
    pub fn parse(s: &str) -> Result<Pool> {
        let bad = |why: &str| {
            Error::invalid(format!(
                "invalid address pool {s:?}: {why} (want base=10.10.0.0/16,size=24)"
            ))
        };
        let (mut base, mut size) = (None, None);
        for kv in s.split(',') {
            match kv.split_once('=') {
                Some(("base", v)) => base = Some(Subnet::parse(v)?),
                Some(("size", v)) => size = Some(v.parse::<u8>().map_err(|_| bad("bad size"))?),
                _ => return Err(bad("unknown field")),
            }
        }
        let base = base.ok_or_else(|| bad("no base"))?;
        let size = size.ok_or_else(|| bad("no size"))?;
        if size < base.prefix_len || size > 30 {
            return Err(bad("size must be between the base's prefix length and 30"));
        }
        Ok(Pool { base, size })
    }

    /// Docker's defaults: 172.17.0.0/16 to 172.31.0.0/16, then
    /// 192.168.0.0/16 in /20s.
    pub fn defaults() -> Vec<Pool> {
        vec![
            Pool {
                base: Subnet {
                    addr: Ipv4Addr::new(172, 17, 0, 0),
                    prefix_len: 16,
                },
                size: 16,
            },
            Pool {
                base: Subnet {
                    addr: Ipv4Addr::new(172, 18, 0, 0),
                    prefix_len: 15,
                },
                size: 16,
            },
            Pool {
                base: Subnet {
                    addr: Ipv4Addr::new(172, 20, 0, 0),
                    prefix_len: 14,
                },
                size: 16,
            },
            Pool {
                base: Subnet {
                    addr: Ipv4Addr::new(172, 24, 0, 0),
                    prefix_len: 14,
                },
                size: 16,
            },
            Pool {
                base: Subnet {
                    addr: Ipv4Addr::new(172, 28, 0, 0),
                    prefix_len: 14,
                },
                size: 16,
            },
            Pool {
                base: Subnet {
                    addr: Ipv4Addr::new(192, 168, 0, 0),
                    prefix_len: 16,
                },
                size: 20,
            },
        ]
    }

    fn subnets(&self) -> impl Iterator<Item = Subnet> + '_ {
        let count = 1u64 << (self.size - self.base.prefix_len);
        let step = 1u64 << (32 - self.size);
        let start = u64::from(u32::from(self.base.network()));
        (0..count).map(move |i| Subnet {
            addr: Ipv4Addr::from((start + i * step) as u32),
            prefix_len: self.size,
        })
    }
}

/// The first subnet of `pools`, in order, that overlaps nothing in `used`.
pub fn allocate(pools: &[Pool], used: &[Subnet]) -> Option<Subnet> {
    pools
        .iter()
        .flat_map(Pool::subnets)
        .find(|s| !used.iter().any(|u| u.overlaps(s)))
}

/// Destinations of the host's IPv4 routes (the default route left out):
/// a subnet a route covers is in use on this host.
pub fn host_routes() -> Vec<Subnet> {
    std::fs::read_to_string("/proc/net/route")
        .map(|t| parse_routes(&t))
        .unwrap_or_default()
}

/// `/proc/net/route`: hex, in the kernel's (little-endian) byte order.
fn parse_routes(table: &str) -> Vec<Subnet> {
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dst), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // The kernel prints the addresses' memory as a native integer.
        let mask = u32::from(Ipv4Addr::from(mask.to_ne_bytes()));
        let dst = u32::from(Ipv4Addr::from(dst.to_ne_bytes()));
        if mask == 0 {
            continue;
        }
        out.push(Subnet {
            addr: Ipv4Addr::from(dst & mask),
            prefix_len: mask.count_ones() as u8,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Subnet {
        Subnet::parse(x).unwrap()
    }

    #[test]
    fn subnets_parse_and_overlap() {
        assert_eq!(s("10.1.0.0/16").to_string(), "10.1.0.0/16");
        assert!(Subnet::parse("10.1.0.1/16").is_err());
        assert!(Subnet::parse("10.1.0.0").is_err());
        assert!(Subnet::parse("10.1.0.0/33").is_err());
        assert!(Subnet::parse("::/64").is_err());
        assert!(s("10.1.0.0/16").overlaps(&s("10.1.2.0/24")));
        assert!(s("10.1.2.0/24").overlaps(&s("10.1.0.0/16")));
        assert!(!s("10.1.2.0/24").overlaps(&s("10.1.3.0/24")));
        let n = s("10.1.2.0/24");
        assert_eq!(n.first_host(), Ipv4Addr::new(10, 1, 2, 1));
        assert!(n.is_host(Ipv4Addr::new(10, 1, 2, 254)));
        assert!(!n.is_host(Ipv4Addr::new(10, 1, 2, 255)));
        assert!(!n.is_host(Ipv4Addr::new(10, 1, 2, 0)));
        assert!(!n.is_host(Ipv4Addr::new(10, 1, 3, 1)));
    }

    #[test]
    fn pools_parse() {
        let p = Pool::parse("base=10.10.0.0/16,size=24").unwrap();
        assert_eq!(p.base, s("10.10.0.0/16"));
        assert_eq!(p.size, 24);
        for bad in [
            "base=10.10.0.0/16",
            "size=24",
            "base=10.10.0.0/16,size=8",
            "base=10.10.0.0/16,size=31",
            "base=10.10.0.0/16,size=24,x=1",
        ] {
            assert!(Pool::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allocation_skips_used_subnets_in_pool_order() {
        let pools = [
            Pool::parse("base=10.10.0.0/23,size=24").unwrap(),
            Pool::parse("base=10.20.0.0/16,size=16").unwrap(),
        ];
        assert_eq!(allocate(&pools, &[]), Some(s("10.10.0.0/24")));
        assert_eq!(
            allocate(&pools, &[s("10.10.0.0/24")]),
            Some(s("10.10.1.0/24"))
        );
        // A route covering the whole first pool.
        assert_eq!(
            allocate(&pools, &[s("10.10.0.0/16")]),
            Some(s("10.20.0.0/16"))
        );
        assert_eq!(
            allocate(&pools, &[s("10.10.0.0/16"), s("10.20.5.0/24")]),
            None
        );
        let defaults = Pool::defaults();
        assert_eq!(allocate(&defaults, &[]), Some(s("172.17.0.0/16")));
        assert_eq!(
            allocate(&defaults, &[s("172.16.0.0/12")]),
            Some(s("192.168.0.0/20"))
        );
    }

    #[test]
    fn reads_the_route_table() {
        let t =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(
            parse_routes(t),
            vec![s("192.168.0.0/24"), s("172.17.0.0/16")]
        );
    }
}
