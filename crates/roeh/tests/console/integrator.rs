//! The integrator's pages in a real browser, against the ONVIF simulator (ipycam) inside a
//! private network namespace: an integrator signs in (Hebrew), runs discovery, approves the
//! simulator choosing its main and sub profiles from those the device reports, and sees it on the
//! cameras page streaming while it records; turns its analysis off and on; adds a camera by a URL
//! with shell syntax and sees the server's own message under the URL field with what was typed
//! kept. An admin (English) creates a webhook to a receiver on loopback, and its delivery log
//! shows the alert delivered; disabling and enabling it show in the list.

use super::*;

const INTEGRATOR_ENV: &str = "ROEH_CONSOLE_INTEGRATOR_IN_NETNS";
const CAM_USER: &str = "operator";
const CAM_PASSWORD: &str = "Virtual-Cam-Pa55-onvif";
const TEST_NAME: &str = "integrator::an_integrator_approves_an_onvif_camera_with_its_profiles_and_an_admin_follows_a_webhook";

#[test]
fn an_integrator_approves_an_onvif_camera_with_its_profiles_and_an_admin_follows_a_webhook() {
    roeh_testkit::ipycam::in_private_netns("console", INTEGRATOR_ENV, TEST_NAME, inside_namespace);
}

fn inside_namespace() {
    use roeh_testkit::ipycam;
    ipycam::prepare_loopback().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cam = ipycam::Camera::start(dir.path(), CAM_USER, CAM_PASSWORD).unwrap();
    let site = Site::new(4.0, &[]);
    let mut toml = std::fs::read_to_string(&site.config).unwrap();
    toml.push_str(
        "[onvif]\nallowed_networks = [\"127.0.0.0/8\"]\ndiscovery_interface = \"127.0.0.1\"\n\
         probe_addresses = [\"127.0.0.1:3702\"]\ndiscovery_timeout_secs = 2.0\n\
         [webhooks]\nallow_http = true\nallowed_networks = [\"127.0.0.0/8\"]\n",
    );
    std::fs::write(&site.config, toml).unwrap();
    ipycam::tell_logs_on_failure(cam, Some(&site.log), || story(&site));
}

/// A webhook receiver on loopback: answers 204 to every request; how many it received.
fn receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(&conn);
            let mut line = String::new();
            let mut length = 0usize;
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = (&conn).write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
    });
    (port, got)
}

/// Sets the input `id` to `text` as typed (replacing what it held).
fn fill(b: &Browser, id: &str, text: &str) {
    b.js(&format!(
        "const e = document.getElementById({}); e.focus(); e.value = ''; \
         e.dispatchEvent(new Event('input', {{bubbles: true}})); return true",
        json!(id)
    ));
    b.type_into(id, text);
}

fn story(site: &Site) {
    let (proc_, base) = site.serve();
    let password = "a-long-integrator-Passw0rd";
    user_with_password(&base, "yael", "integrator", password);
    let b = Browser::open("console-integrator", "he", 1400, 900);
    sign_in_as(&b, &base, "yael", password);
    // An integrator lands on the cameras; the navigation offers its pages and no webhooks.
    b.until(
        "the cameras page",
        "return document.getElementById('cameras-title')",
    );
    assert_eq!(b.js("return document.documentElement.dir"), json!("rtl"));
    let nav = b.js(
        "return [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))",
    );
    let nav: Vec<String> = serde_json::from_value(nav).unwrap();
    assert!(nav.contains(&"#/cameras".to_string()), "{nav:?}");
    assert!(nav.contains(&"#/onvif".to_string()), "{nav:?}");
    assert!(!nav.contains(&"#/webhooks".to_string()), "{nav:?}");

    // Discovery lists the simulator (probes until it answers).
    b.js("location.hash = '#/onvif'; return true");
    b.until(
        "the discovery page",
        "return document.querySelector('button.discover-run')",
    );
    let end = std::time::Instant::now() + GUARD;
    let device = loop {
        let d = b.js("const e = document.querySelector('li.device'); return e && e.dataset.device");
        if let Some(d) = d.as_str() {
            break d.to_string();
        }
        assert!(std::time::Instant::now() < end, "no device was discovered");
        b.js("const e = document.querySelector('button.discover-run'); if (!e.disabled) e.click(); return true");
        std::thread::sleep(Duration::from_millis(500));
    };
    b.until(
        "the device's name",
        &format!(
            "return document.querySelector('#device-{device} h3').textContent === 'Roeh-Test-Cam'"
        ),
    );

    // Approve: the login, then the profiles read from the device, main and sub chosen.
    click(&b, &format!("#device-{device} button.action-approve"));
    let p = format!("approve-{device}");
    b.until(
        "the approve form",
        &format!("return document.getElementById('{p}-name')"),
    );
    fill(&b, &format!("{p}-name"), "שער צפון");
    b.type_into(&format!("{p}-username"), CAM_USER);
    b.type_into(&format!("{p}-password"), CAM_PASSWORD);
    click(&b, &format!("#{p}-form button.read-profiles"));
    let mains = b.until(
        "the device's profiles",
        &format!(
            "const s = document.getElementById('{p}-main_profile'); \
             return s && [...s.options].map(o => o.value)"
        ),
    );
    assert_eq!(mains, json!(["Profile_Main", "Profile_Sub"]));
    // Choosing the sub stream as main takes it out of the sub's choices; back to the main.
    b.js(&format!(
        "const s = document.getElementById('{p}-main_profile'); s.value = 'Profile_Sub'; \
         s.dispatchEvent(new Event('change', {{bubbles: true}})); return true"
    ));
    b.until(
        "the sub choices without the main",
        &format!(
            "return [...document.getElementById('{p}-sub_profile').options].map(o => o.value).join() === ',Profile_Main'"
        ),
    );
    b.js(&format!(
        "const s = document.getElementById('{p}-main_profile'); s.value = 'Profile_Main'; \
         s.dispatchEvent(new Event('change', {{bubbles: true}})); return true"
    ));
    b.js(&format!(
        "const s = document.getElementById('{p}-sub_profile'); s.value = 'Profile_Sub'; \
         s.dispatchEvent(new Event('change', {{bubbles: true}})); return true"
    ));
    b.until(
        "main and sub chosen",
        &format!(
            "return document.getElementById('{p}-main_profile').value === 'Profile_Main' && \
             document.getElementById('{p}-sub_profile').value === 'Profile_Sub'"
        ),
    );
    b.shot("onvif-approve-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());
    click(&b, &format!("#{p}-form button.approve-submit"));
    b.until(
        "the camera added",
        "return document.querySelector('.added-note')",
    );
    let (_, cams) = call("GET", &format!("{base}/api/cameras"), Value::Null);
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    assert_eq!(cams[0]["name"], "שער צפון");
    let (s, o) = call(
        "GET",
        &format!("{base}/api/cameras/{cam}/onvif"),
        Value::Null,
    );
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["main"]["token"], "Profile_Main");
    assert_eq!(o["sub"]["token"], "Profile_Sub");
    assert!(!o.to_string().contains(CAM_PASSWORD));

    // The cameras page: streaming, with a frame rate and a bitrate, while segments are recorded.
    b.js("location.hash = '#/cameras'; return true");
    b.until(
        "the camera streaming",
        &format!(
            "return document.querySelector('tr[data-camera=\"{cam}\"][data-state=streaming]')"
        ),
    );
    roeh_testkit::wait_for("a committed segment", GUARD, || {
        let (_, v) = call(
            "GET",
            &format!("{base}/api/cameras/{cam}/segments"),
            Value::Null,
        );
        (!v.as_array()?.is_empty()).then_some(())
    })
    .unwrap();
    b.until(
        "a frame rate on the page",
        &format!(
            "const r = document.querySelector('tr[data-camera=\"{cam}\"]'); \
             return r && /[0-9]/.test(r.cells[2].textContent) && /kbit|Mbit/.test(r.cells[3].textContent)"
        ),
    );

    // Analysis off, then on again: the server keeps each.
    let toggle = format!("tr[data-camera=\"{cam}\"] button.analysis-toggle");
    b.until(
        "the analysis toggle",
        &format!("return document.querySelector('{toggle}[data-enabled=true]')"),
    );
    click(&b, &toggle);
    b.until(
        "analysis off",
        &format!("return document.querySelector('{toggle}[data-enabled=false]')"),
    );
    let (_, a) = call(
        "GET",
        &format!("{base}/api/cameras/{cam}/analysis"),
        Value::Null,
    );
    assert_eq!(a["enabled"], false, "{a}");
    b.shot("cameras-health-he");
    click(&b, &toggle);
    b.until(
        "analysis on",
        &format!("return document.querySelector('{toggle}[data-enabled=true]')"),
    );
    let (_, a) = call(
        "GET",
        &format!("{base}/api/cameras/{cam}/analysis"),
        Value::Null,
    );
    assert_eq!(a["enabled"], true, "{a}");

    // A URL with shell syntax: the server's own message under the URL field, the text kept.
    let bad = "rtsp://x/$(reboot)";
    let (s, refusal) = call(
        "POST",
        &format!("{base}/api/cameras"),
        json!({"name": "probe", "url": bad}),
    );
    assert_eq!(s, 400, "{refusal}");
    let said = refusal["error"]["message"].as_str().unwrap().to_string();
    b.type_into("camera-name", "מצלמת בדיקה");
    b.type_into("camera-url", bad);
    b.type_into("camera-username", "viewer");
    click(&b, "#camera-form button[type=submit]");
    let shown = b.until(
        "the refusal under the URL",
        "const e = document.getElementById('camera-url-error'); return e && e.textContent",
    );
    assert_eq!(shown, json!(said));
    assert_eq!(
        b.js("const u = document.getElementById('camera-url'); \
              return [u.value, u.getAttribute('aria-invalid'), document.activeElement === u, \
                      document.getElementById('camera-name').value, \
                      document.getElementById('camera-username').value]"),
        json!([bad, "true", true, "מצלמת בדיקה", "viewer"])
    );
    let (_, cams) = call("GET", &format!("{base}/api/cameras"), Value::Null);
    assert_eq!(cams.as_array().unwrap().len(), 1, "nothing added: {cams}");
    b.shot("camera-url-refused-he");
    sign_out(&b);

    // The admin, in English: a webhook to the receiver, and its delivery log.
    let (port, got) = receiver();
    sign_in_as(&b, &base, TEST_ADMIN, TEST_ADMIN_PASSWORD);
    b.until(
        "the admin's console",
        "return document.querySelector('header nav')",
    );
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.dir === 'ltr'",
    );
    b.js("location.hash = '#/webhooks'; return true");
    b.until(
        "the webhooks page",
        "return document.getElementById('webhook-form')",
    );
    b.type_into("webhook-name", "Dispatch desk");
    b.type_into("webhook-url", &format!("http://127.0.0.1:{port}/hook"));
    b.type_into("webhook-secret", "short");
    click(&b, "#webhook-form button[type=submit]");
    let shown = b.until(
        "the refusal under the secret",
        "const e = document.getElementById('webhook-secret-error'); return e && e.textContent",
    );
    assert!(shown.as_str().unwrap().contains("secret"), "{shown}");
    fill(&b, "webhook-secret", "a-signing-secret-0123456789");
    click(&b, "#webhook-form button[type=submit]");
    let hook = b
        .until(
            "the subscription",
            "const r = document.querySelector('tr.webhook-row'); return r && r.dataset.webhook",
        )
        .as_str()
        .unwrap()
        .to_string();
    let hotspot = plain_hotspot(&base, "North gate", &cam, 32.08);
    let _ = hotspot;
    raise_on(&base, &cam, "Fight at the north gate");
    roeh_testkit::wait_for("the receiver to get the alert", GUARD, || {
        (got.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    })
    .unwrap();
    let row = format!("#webhook-{hook}");
    click(&b, &format!("{row} button.action-deliveries"));
    let end = std::time::Instant::now() + GUARD;
    loop {
        let done = b.js("return !!document.querySelector('tr.delivery-row[data-state=delivered]')");
        if done == json!(true) {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "no delivery shown as delivered"
        );
        b.js("const e = document.querySelector('button.deliveries-refresh'); if (e) e.click(); return true");
        std::thread::sleep(Duration::from_millis(500));
    }
    b.shot("webhooks-en");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // Disabled, then enabled again.
    click(&b, &format!("{row} button.action-toggle"));
    b.until(
        "the subscription disabled",
        &format!("return document.querySelector('{row}[data-enabled=false]')"),
    );
    let (_, list) = call("GET", &format!("{base}/api/webhooks"), Value::Null);
    assert_eq!(list[0]["enabled"], false, "{list}");
    click(&b, &format!("{row} button.action-toggle"));
    b.until(
        "the subscription enabled",
        &format!("return document.querySelector('{row}[data-enabled=true]')"),
    );

    drop(b);
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
}
