//! The caller's identity, read from the leaf certificate it presented: its first URI
//! subject alternative name (a SPIFFE id such as `spiffe://example.org/ns/prod/sa/loader`),
//! else its first DNS name, else its subject's common name.

use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The identity of the caller whose leaf certificate is `cert_der` (DER), in this order:
/// the first URI subject alternative name, else the first DNS subject alternative name,
/// else the subject's common name (CN). `None` when the certificate cannot be parsed or
/// names nothing of the three. Empty names are skipped.
///
/// The certificate is trusted as far as the TLS handshake verified it; this only reads it.
pub fn identity_of(cert_der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    if let Ok(Some(sans)) = cert.subject_alternative_name() {
        let names = &sans.value.general_names;
        let uri = names.iter().find_map(|n| match n {
            GeneralName::URI(u) if !u.is_empty() => Some(*u),
            _ => None,
        });
        let dns = || {
            names.iter().find_map(|n| match n {
                GeneralName::DNSName(d) if !d.is_empty() => Some(*d),
                _ => None,
            })
        };
        if let Some(name) = uri.or_else(dns) {
            return Some(name.to_string());
        }
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .find(|cn| !cn.is_empty())
        .map(str::to_string);
    cn
}

#[cfg(test)]
mod tests {
    use super::identity_of;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    fn cert(sans: Vec<SanType>, cn: Option<&str>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        let key = KeyPair::generate().expect("a key");
        params
            .self_signed(&key)
            .expect("a certificate")
            .der()
            .to_vec()
    }

    fn uri(s: &str) -> SanType {
        SanType::URI(s.try_into().expect("an IA5 string"))
    }

    fn dns(s: &str) -> SanType {
        SanType::DnsName(s.try_into().expect("an IA5 string"))
    }

    #[test]
    fn the_first_uri_name_wins() {
        let der = cert(
            vec![
                dns("loader.example.org"),
                uri("spiffe://example.org/ns/prod/sa/loader"),
                uri("spiffe://example.org/other"),
            ],
            Some("loader-cn"),
        );
        assert_eq!(
            identity_of(&der).as_deref(),
            Some("spiffe://example.org/ns/prod/sa/loader")
        );
    }

    #[test]
    fn without_a_uri_the_first_dns_name() {
        let der = cert(
            vec![
                SanType::IpAddress([127, 0, 0, 1].into()),
                dns("loader.example.org"),
                dns("second.example.org"),
            ],
            Some("loader-cn"),
        );
        assert_eq!(identity_of(&der).as_deref(), Some("loader.example.org"));
    }

    #[test]
    fn without_names_the_common_name() {
        let der = cert(vec![], Some("江苏省人民政府办公厅"));
        assert_eq!(identity_of(&der).as_deref(), Some("江苏省人民政府办公厅"));
        let der = cert(vec![SanType::IpAddress([10, 0, 0, 1].into())], Some("ops"));
        assert_eq!(identity_of(&der).as_deref(), Some("ops"));
    }

    #[test]
    fn nothing_to_name_or_not_a_certificate() {
        assert_eq!(identity_of(&cert(vec![], None)), None);
        assert_eq!(identity_of(b"not a certificate"), None);
        assert_eq!(identity_of(&[]), None);
    }
}
