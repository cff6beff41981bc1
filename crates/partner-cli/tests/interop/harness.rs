//! The harness itself: the management command lists the same tokens as the test control
//! endpoint, and a dedicated server stops, leaving nothing behind, when dropped.

use crate::JSON_DRF;
use crate::cli::Partner;
use crate::support::DotServer;

#[test]
fn a_dedicated_server_lists_tokens_both_ways_and_stops_when_dropped() {
    let server = DotServer::start(JSON_DRF);
    eprintln!(
        "dedicated DOT server ready in {:.2}s",
        server.startup.as_secs_f64()
    );
    let partner = Partner::new(&server, &server.client);
    partner.run(&["token", "--vendor", "podero"]).ok_json();
    partner
        .run(&["--no-token-cache", "users", "list"])
        .ok_json();

    let mut by_http = server.stored_tokens();
    let mut by_command = server.tokens_by_management_command();
    by_http.sort();
    by_command.sort();
    assert_eq!(by_http.len(), 2);
    assert_eq!(by_command, by_http);

    let pid = server.pid();
    let data_dir = server.data_dir().to_owned();
    assert!(data_dir.join("db.sqlite3").exists());
    drop(server);
    // Drop kills and reaps the process and removes its directory.
    assert!(!data_dir.exists(), "{} is left behind", data_dir.display());
    #[cfg(target_os = "linux")]
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the server process {pid} is still there"
    );
    let _ = pid;
}
