"""Sends roeh-onvif's onboarding requests with onvif-zeep-async, an independent ONVIF client.

Used by tests/zeep_crosscheck.rs: the test points this script at a local capture server that
records every request and answers with the recorded fixture replies, then compares what this
client sent with what roeh-onvif sends for the same operations.

    python zeep_requests.py --host 127.0.0.1 --port 8080 --user operator --profile Profile_1

The password is read from the ROEH_ZEEP_PASSWORD environment variable (never from the command
line). The WSDLs are the ones bundled with the onvif-zeep-async package; nothing is fetched.

Flow (the operations roeh-onvif's OnvifClient uses to onboard a camera):
  1. GetSystemDateAndTime without authentication; the device clock offset is then applied to
     every WS-Security `Created` (adjust_time=True, as roeh does);
  2. GetServices (IncludeCapability=false), which the capture server refuses, then
     GetCapabilities (Category=All), from which the media XAddr is learned;
  3. GetDeviceInformation;
  4. media service: GetProfiles, then for each --profile GetStreamUri (RTP-Unicast over RTSP)
     and GetSnapshotUri.
Prints one line per completed operation to stdout; exits non-zero on the first failure.
"""

import argparse
import asyncio
import os
import sys

import onvif
from onvif import ONVIFCamera

# The ONVIF WSDLs bundled with the package.
WSDL_DIR = os.path.join(os.path.dirname(onvif.__file__), "wsdl")


def log(line: str) -> None:
    print(line, flush=True)


async def run(args: argparse.Namespace) -> None:
    password = os.environ.get("ROEH_ZEEP_PASSWORD")
    if not password:
        raise SystemExit("zeep_requests: ROEH_ZEEP_PASSWORD is not set")
    cam = ONVIFCamera(
        args.host,
        args.port,
        args.user,
        password,
        wsdl_dir=WSDL_DIR,
        encrypt=True,  # WS-Security PasswordDigest
        no_cache=True,  # no sqlite cache in the user's home
        adjust_time=True,  # unauthenticated GetSystemDateAndTime, then offset Created
    )
    try:
        await cam.update_xaddrs()
        log(f"clock offset: {cam.dt_diff}")
        log(f"xaddrs: {sorted(cam.xaddrs)}")

        devicemgmt = await cam.create_devicemgmt_service()
        info = await devicemgmt.GetDeviceInformation()
        log(f"GetDeviceInformation: {info.Manufacturer!r}")

        media = await cam.create_media_service()
        profiles = await media.GetProfiles()
        log(f"GetProfiles: {[p.token for p in profiles]}")
        for token in args.profile:
            stream = await media.GetStreamUri(
                {
                    "StreamSetup": {
                        "Stream": "RTP-Unicast",
                        "Transport": {"Protocol": "RTSP"},
                    },
                    "ProfileToken": token,
                }
            )
            log(f"GetStreamUri {token}: {stream.Uri}")
            snap = await media.GetSnapshotUri({"ProfileToken": token})
            log(f"GetSnapshotUri {token}: {snap.Uri}")
    finally:
        await cam.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--profile", action="append", required=True)
    args = p.parse_args()
    try:
        asyncio.run(run(args))
    except Exception as e:  # noqa: BLE001 - report any failure to the calling test
        print(f"zeep_requests: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
