//! The certificates of the Kubernetes API listener: a CA generated once per data directory
//! and a serving certificate it signs for 127.0.0.1, ::1 and localhost. Kept as PEM files so
//! kubeconfigs written earlier stay valid across restarts.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the certificate files in {0} are unreadable; remove the directory to make new ones")]
    Damaged(PathBuf),
}

/// PEM material of the API listener.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVER_CERT: &str = "apiserver.crt";
const SERVER_KEY: &str = "apiserver.key";

impl Pki {
    /// Loads the certificates from `dir`, making them first if they are not there.
    pub fn load_or_create(dir: &Path) -> Result<Self, PkiError> {
        let io = |context, path: &Path| {
            let path = path.to_path_buf();
            move |source| PkiError::Io {
                context,
                path,
                source,
            }
        };
        if dir.join(SERVER_KEY).exists() {
            let read = |name: &str| {
                std::fs::read_to_string(dir.join(name)).map_err(io("reading", &dir.join(name)))
            };
            let pki = Self {
                ca_cert_pem: read(CA_CERT)?,
                server_cert_pem: read(SERVER_CERT)?,
                server_key_pem: read(SERVER_KEY)?,
            };
            if !pki.ca_cert_pem.contains("BEGIN CERTIFICATE")
                || !pki.server_key_pem.contains("PRIVATE KEY")
            {
                return Err(PkiError::Damaged(dir.to_path_buf()));
            }
            return Ok(pki);
        }
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kubernetes");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        ca_params.not_after = rcgen::date_time_ymd(2034, 1, 1);
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca_issuer = rcgen::Issuer::new(ca_params, &ca_key);

        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        params.subject_alt_names.push(SanType::IpAddress(
            "127.0.0.1".parse().expect("IPv4 literal"),
        ));
        params
            .subject_alt_names
            .push(SanType::IpAddress("::1".parse().expect("IPv6 literal")));
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2034, 1, 1);
        let server_cert = params.signed_by(&server_key, &ca_issuer)?;

        let pki = Self {
            ca_cert_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        };
        let write = |name: &str, text: &str| -> Result<(), PkiError> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io("writing", &path))?;
            restrict(&path).map_err(io("restricting", &path))
        };
        write(CA_KEY, &ca_key.serialize_pem())?;
        write(CA_CERT, &pki.ca_cert_pem)?;
        write(SERVER_CERT, &pki.server_cert_pem)?;
        write(SERVER_KEY, &pki.server_key_pem)?;
        Ok(pki)
    }

    /// The rustls server configuration, offering HTTP/2 and HTTP/1.1.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, PkiError> {
        use rustls::pki_types::pem::PemObject;
        let damaged = || PkiError::Damaged(PathBuf::from("<pki>"));
        let certs = rustls_pemfile_certs(&self.server_cert_pem).ok_or_else(damaged)?;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes())
            .map_err(|_| damaged())?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| damaged())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|_| damaged())?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn rustls_pemfile_certs(pem: &str) -> Option<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> =
        rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    certs.ok().filter(|c| !c.is_empty())
}

#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> std::io::Result<()> {
    Ok(())
}
