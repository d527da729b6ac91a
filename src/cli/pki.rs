//! `nianbao pki init DIR --server-name NAME [--client ID]...`: a private CA, a server
//! certificate and client certificates for trying mutual TLS, with a sample access
//! policy naming the clients, and the commands to use them.
//!
//! Every certificate is made here (rcgen, ECDSA P-256). A client certificate carries its
//! ID so that the server reads it back as the caller's identity (the first URI name,
//! else the first DNS name, else the common name): an ID with `://` is its URI name, one
//! that is a DNS name its DNS name, and every ID is also the common name. Nothing is
//! overwritten; private keys are written with mode 0600.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use super::Status;

#[derive(Debug, Args)]
pub struct PkiArgs {
    #[command(subcommand)]
    command: PkiCommand,
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Write a private CA, a server certificate and client certificates to DIR, with a
    /// sample access policy; print how to serve and call with mutual TLS.
    Init(InitArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Directory to write to (created when missing); no file in it is overwritten.
    dir: PathBuf,

    /// The server's DNS name (or IP address), as clients will dial it; `localhost`,
    /// 127.0.0.1 and ::1 are added for local trials.
    #[arg(long, value_name = "NAME")]
    server_name: String,

    /// A client certificate for the caller identity ID (repeatable): a URI such as
    /// `spiffe://example.org/loader`, a DNS name, or any other name (common name only).
    #[arg(long = "client", value_name = "ID")]
    clients: Vec<String>,

    /// Days every certificate is valid for, from now.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    validity_days: u32,
}

/// Why `pki init` could not do its work.
#[derive(Debug, thiserror::Error)]
enum PkiError {
    #[error("refusing to overwrite existing files: {}", list(.0))]
    Exists(Vec<PathBuf>),
    #[error("client ID {id:?} cannot be used: {reason}")]
    BadId { id: String, reason: &'static str },
    #[error("client IDs {first:?} and {second:?} would write the same files (clients/{stem}.pem)")]
    SameFiles {
        first: String,
        second: String,
        stem: String,
    },
    #[error("server name {0:?} is neither a DNS name nor an IP address")]
    BadServerName(String),
    #[error("cannot make the certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(args: PkiArgs) -> Status {
    match args.command {
        PkiCommand::Init(args) => match init(&args) {
            Ok(()) => Status::Clean,
            Err(e) => super::fail(e),
        },
    }
}

/// One file to write.
struct Output {
    path: PathBuf,
    contents: String,
    secret: bool,
}

fn init(args: &InitArgs) -> Result<(), PkiError> {
    let server = server_name(&args.server_name)?;
    let clients = client_ids(&args.clients)?;
    let now = OffsetDateTime::now_utc();
    // A little slack for clocks a few minutes behind.
    let not_before = now - Duration::minutes(5);
    let not_after = now + Duration::days(i64::from(args.validity_days));
    let dir = &args.dir;

    let mut outputs = Vec::new();
    // `dir/stem.pem` and `dir/stem.key` (the stem may hold dots: no `with_extension`).
    let mut pair = |dir: &Path, stem: &str, cert: String, key: &KeyPair| {
        outputs.push(Output {
            path: dir.join(format!("{stem}.pem")),
            contents: cert,
            secret: false,
        });
        outputs.push(Output {
            path: dir.join(format!("{stem}.key")),
            contents: key.serialize_pem(),
            secret: true,
        });
    };

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = name("nianbao private CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key)?;
    pair(dir, "ca", ca_cert.pem(), &ca_key);
    let issuer = Issuer::new(ca, ca_key);

    let leaf = |cn: &str, sans: Vec<SanType>, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(cn);
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok::<_, rcgen::Error>((cert.pem(), key))
    };

    let mut sans = vec![server.clone()];
    for local in [
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::from([127, 0, 0, 1])),
        SanType::IpAddress(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
    ] {
        if !sans.contains(&local) {
            sans.push(local);
        }
    }
    let (cert, key) = leaf(&args.server_name, sans, ExtendedKeyUsagePurpose::ServerAuth)?;
    pair(dir, "server", cert, &key);

    for client in &clients {
        let mut sans = Vec::new();
        if client.id.contains("://") {
            sans.push(SanType::URI(client.id.as_str().try_into()?));
        } else if is_dns_name(&client.id) {
            sans.push(SanType::DnsName(client.id.as_str().try_into()?));
        }
        let (cert, key) = leaf(&client.id, sans, ExtendedKeyUsagePurpose::ClientAuth)?;
        pair(&dir.join("clients"), &client.stem, cert, &key);
    }
    outputs.push(Output {
        path: dir.join("policy.toml"),
        contents: policy(&clients),
        secret: false,
    });

    let existing: Vec<PathBuf> = outputs
        .iter()
        .filter(|o| o.path.symlink_metadata().is_ok())
        .map(|o| o.path.clone())
        .collect();
    if !existing.is_empty() {
        return Err(PkiError::Exists(existing));
    }
    for o in &outputs {
        write_new(&o.path, &o.contents, o.secret)?;
    }
    print_usage(args, &clients);
    Ok(())
}

/// A client ID and the stem of its files.
struct Client {
    id: String,
    stem: String,
}

fn client_ids(ids: &[String]) -> Result<Vec<Client>, PkiError> {
    let mut clients: Vec<Client> = Vec::new();
    for id in ids {
        let bad = |reason| PkiError::BadId {
            id: id.clone(),
            reason,
        };
        if id.is_empty() {
            return Err(bad("it is empty"));
        }
        if id.len() > 200 {
            return Err(bad("it is longer than 200 bytes"));
        }
        if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("it contains spaces or control characters"));
        }
        if id.contains(['"', '\\']) {
            return Err(bad("it contains a quote or a backslash"));
        }
        if id.contains("://") && !id.is_ascii() {
            return Err(bad("a URI identity must be ASCII"));
        }
        let stem = file_stem(id);
        if stem.starts_with('.') {
            return Err(bad("its file name would start with a dot"));
        }
        if let Some(first) = clients.iter().find(|c| c.stem == stem) {
            return Err(PkiError::SameFiles {
                first: first.id.clone(),
                second: id.clone(),
                stem,
            });
        }
        clients.push(Client {
            id: id.clone(),
            stem,
        });
    }
    Ok(clients)
}

/// The name of a client's files: its ID with every character other than a letter, a
/// digit, `-`, `_` or `.` replaced by `_` (`spiffe://example.org/a` →
/// `spiffe___example.org_a`).
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn server_name(name: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    if !is_dns_name(name) {
        return Err(PkiError::BadServerName(name.to_string()));
    }
    Ok(SanType::DnsName(name.try_into()?))
}

/// A DNS name: dot-separated labels of ASCII letters, digits and hyphens, each 1–63
/// long and not starting or ending with a hyphen, 253 bytes in all.
fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// The sample access policy, one caller per client.
fn policy(clients: &[Client]) -> String {
    let mut out = String::from(
        "# nianbao access policy (serve --policy FILE). Reloaded on SIGHUP.\n\
         # A caller reads inside its read and write scopes, writes inside its write scopes.\n\
         \n\
         [defaults]\n\
         # Requests per second and burst of each caller, unless its entry says otherwise.\n\
         rate_per_second = 100\n\
         burst = 200\n",
    );
    let caller = |id: &str, prefix: &str| {
        format!(
            "\n{prefix}[[caller]]\n\
             {prefix}identity = \"{id}\"\n\
             # validator | reader | submitter | admin\n\
             {prefix}roles = [\"submitter\"]\n\
             # Division-code prefixes: \"\" is national, \"32\" a province, \"3206\" a city.\n\
             {prefix}read_scopes = [\"\"]\n\
             {prefix}write_scopes = [\"\"]\n"
        )
    };
    if clients.is_empty() {
        out.push_str("\n# One entry per caller, e.g.:\n");
        out.push_str(&caller("spiffe://example.org/loader", "# "));
    }
    for c in clients {
        out.push_str(&caller(&c.id, ""));
    }
    out
}

/// Writes a file that must not exist yet; a secret one readable by its owner only.
fn write_new(path: &Path, contents: &str, secret: bool) -> Result<(), PkiError> {
    let failed = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(contents.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

fn print_usage(args: &InitArgs, clients: &[Client]) {
    let dir = args.dir.display();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Wrote a private CA, a server certificate for {} and {} client certificate(s) to {dir}.",
        args.server_name,
        clients.len()
    );
    let _ = writeln!(out, "\nServe with mutual TLS:");
    let _ = writeln!(
        out,
        "  nianbao serve --tls-cert {dir}/server.pem --tls-key {dir}/server.key --client-ca {dir}/ca.pem --policy {dir}/policy.toml"
    );
    match clients.first() {
        Some(c) => {
            let _ = writeln!(out, "\nCall it as {}:", c.id);
            let _ = writeln!(
                out,
                "  grpcurl -cacert {dir}/ca.pem -cert {dir}/clients/{stem}.pem -key {dir}/clients/{stem}.key localhost:50051 grpc.health.v1.Health/Check",
                stem = c.stem
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\nNo client certificates: add `--client ID` to make some."
            );
        }
    }
    print!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_safe_file_names() {
        let c = client_ids(&[
            "spiffe://example.org/ns/a".into(),
            "loader.example.org".into(),
        ])
        .expect("good IDs");
        assert_eq!(c[0].stem, "spiffe___example.org_ns_a");
        assert_eq!(c[1].stem, "loader.example.org");
        for bad in ["", "../x", ".hidden", "a b", "a\"b", "a\\b", "x\n"] {
            assert!(client_ids(&[bad.to_string()]).is_err(), "{bad:?}");
        }
        assert!(matches!(
            client_ids(&["a/b".into(), "a:b".into()]),
            Err(PkiError::SameFiles { .. })
        ));
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_name("nianbao.example.org"));
        assert!(is_dns_name("loader-1"));
        assert!(!is_dns_name("-x.org"));
        assert!(!is_dns_name("a..b"));
        assert!(!is_dns_name("江苏"));
        assert!(!is_dns_name("spiffe://x"));
    }
}
