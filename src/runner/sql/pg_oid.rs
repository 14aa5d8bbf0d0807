//! PostgreSQL type OIDs, named as in the server's catalog (`pg_type.dat`):
//! the types the SQL runner binds parameters to and reads columns of.

pub(crate) const BOOL: u32 = 16;
pub(crate) const BYTEA: u32 = 17;
pub(crate) const CHAR: u32 = 18;
pub(crate) const NAME: u32 = 19;
pub(crate) const INT8: u32 = 20;
pub(crate) const INT2: u32 = 21;
pub(crate) const INT4: u32 = 23;
pub(crate) const REGPROC: u32 = 24;
pub(crate) const TEXT: u32 = 25;
pub(crate) const OID: u32 = 26;
pub(crate) const XID: u32 = 28;
pub(crate) const CID: u32 = 29;
pub(crate) const JSON: u32 = 114;
pub(crate) const XML: u32 = 142;
pub(crate) const CIDR: u32 = 650;
pub(crate) const FLOAT4: u32 = 700;
pub(crate) const FLOAT8: u32 = 701;
pub(crate) const UNKNOWN: u32 = 705;
pub(crate) const MACADDR: u32 = 829;
pub(crate) const INET: u32 = 869;
pub(crate) const BPCHAR: u32 = 1042;
pub(crate) const VARCHAR: u32 = 1043;
pub(crate) const DATE: u32 = 1082;
pub(crate) const TIME: u32 = 1083;
pub(crate) const TIMESTAMP: u32 = 1114;
pub(crate) const TIMESTAMPTZ: u32 = 1184;
pub(crate) const INTERVAL: u32 = 1186;
pub(crate) const TIMETZ: u32 = 1266;
pub(crate) const NUMERIC: u32 = 1700;
/// `regprocedure` .. `regtype` (2202-2206).
pub(crate) const REGPROCEDURE: u32 = 2202;
pub(crate) const REGTYPE: u32 = 2206;
pub(crate) const VOID: u32 = 2278;
pub(crate) const UUID: u32 = 2950;
pub(crate) const REGCONFIG: u32 = 3734;
pub(crate) const JSONB: u32 = 3802;
pub(crate) const REGDICTIONARY: u32 = 3769;
pub(crate) const REGNAMESPACE: u32 = 4089;
pub(crate) const REGROLE: u32 = 4096;
