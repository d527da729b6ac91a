//! The server's TLS configuration: read from PEM files ([`TlsFiles`]) into a rustls
//! `ServerConfig` (ring provider, ALPN `h2`; with a client CA, a client certificate
//! chaining to it is required), held by a [`ReloadableTls`] that can build it again
//! from the files and swap it in.
//!
//! Errors name the file and what is wrong with it, never its contents: a private key
//! never reaches a log line or an error message.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the server's TLS material is (`serve --tls-cert --tls-key [--client-ca]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CA certificates (PEM) client certificates must chain to. With it every
    /// caller must present a valid client certificate (mutual TLS); without it, no
    /// client certificate is asked for.
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not PEM of the kind expected. The reason never quotes the file.
    #[error("the {what} {} is not valid PEM: {reason}", path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        reason: &'static str,
    },
    #[error("the {what} {} holds no certificate", path.display())]
    NoCertificate { what: &'static str, path: PathBuf },
    #[error("the private key {} holds no private key", path.display())]
    NoKey { path: PathBuf },
    #[error("a client CA certificate of {} cannot be used: {source}", path.display())]
    ClientCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("the client CA {} gives no usable trust anchor: {source}", path.display())]
    ClientVerifier {
        path: PathBuf,
        source: rustls::server::VerifierBuilderError,
    },
    #[error("the certificate {} and the private key {} cannot be used: {source}", cert.display(), key.display())]
    CertifiedKey {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot set up TLS: {0}")]
    Rustls(rustls::Error),
}

/// The server's TLS configuration, rebuilt from its files on [`reload`](Self::reload).
/// New handshakes use the configuration in force when they start; connections already
/// open keep the one they were made with.
pub struct ReloadableTls {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
}

impl std::fmt::Debug for ReloadableTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableTls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ReloadableTls {
    /// Reads the files and builds the first configuration.
    pub fn load(files: TlsFiles) -> Result<ReloadableTls, TlsError> {
        let config = server_config(&files)?;
        Ok(ReloadableTls {
            files,
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Reads the files again and puts the new configuration in force. On an error the
    /// configuration in force stays as it was.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(server_config(&self.files)?);
        // A poisoned lock held only an `Arc` being replaced: the value is whole.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }

    /// The files the configuration is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Whether callers must present a client certificate (a client CA is configured).
    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// An acceptor for one handshake, with the configuration in force.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config())
    }
}

/// Builds a server configuration from the files: the ring provider, its safe default
/// protocol versions, ALPN `h2`, and with a client CA a verifier that refuses a client
/// without a certificate, or with one that does not chain to the CA or is outside its
/// validity period.
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates("certificate", &files.cert)?;
    let key = private_key(&files.key)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?;
    let builder = match &files.client_ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates("client CA", path)? {
                roots.add(cert).map_err(|source| TlsError::ClientCa {
                    path: path.clone(),
                    source,
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|source| TlsError::ClientVerifier {
                    path: path.clone(),
                    source,
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config =
        builder
            .with_single_cert(chain, key)
            .map_err(|source| TlsError::CertifiedKey {
                cert: files.cert.clone(),
                key: files.key.clone(),
                source,
            })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate of a PEM file, in order; at least one.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The first private key of a PEM file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("private key", path)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => Err(TlsError::NoKey {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(TlsError::Pem {
            what: "private key",
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        }),
    }
}

/// What is wrong with a PEM file, in words that quote none of it (the parser's own
/// messages may quote a line, and a line of a key file is part of the key).
fn pem_reason(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a section is not valid base64",
        pem::Error::Io(_) => "it cannot be read",
        pem::Error::NoItemsFound => "it holds nothing of the expected kind",
        pem::Error::SectionTooLarge => "a section is too large",
        _ => "it cannot be parsed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path
    }

    fn files(dir: &Path) -> TlsFiles {
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("a certificate");
        TlsFiles {
            cert: write(dir, "server.pem", cert.pem().as_bytes()),
            key: write(dir, "server.key", key.serialize_pem().as_bytes()),
            client_ca: None,
        }
    }

    #[test]
    fn loads_and_offers_h2() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let tls = ReloadableTls::load(files(dir.path())).expect("loads");
        assert_eq!(tls.config().alpn_protocols, vec![b"h2".to_vec()]);
        assert!(!tls.mutual());
    }

    #[test]
    fn a_bad_key_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut f = files(dir.path());
        let secret = "-----BEGIN PRIVATE KEY-----\nSECRETSECRET!!\n-----END PRIVATE KEY-----\n";
        f.key = write(dir.path(), "bad.key", secret.as_bytes());
        let e = ReloadableTls::load(f.clone()).expect_err("a garbled key");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
        f.key = write(dir.path(), "empty.key", b"");
        let e = ReloadableTls::load(f).expect_err("no key");
        assert!(matches!(e, TlsError::NoKey { .. }), "{e}");
    }

    #[test]
    fn a_failed_reload_keeps_the_configuration() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let f = files(dir.path());
        let tls = ReloadableTls::load(f.clone()).expect("loads");
        let before = tls.config();
        write(dir.path(), "server.pem", b"garbage");
        assert!(tls.reload().is_err());
        assert!(Arc::ptr_eq(&before, &tls.config()));
        let _ = files(dir.path());
        tls.reload().expect("reloads");
        assert!(!Arc::ptr_eq(&before, &tls.config()));
    }
}
