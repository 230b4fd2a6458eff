"""`transgan serve`: a local web page to sample one generator."""

from __future__ import annotations

import click

from transgan.runtime import MAX_SEED


@click.command("serve", context_settings={"show_default": True})
@click.argument("snapshot")
@click.option(
    "--host", default="127.0.0.1", help="Address to bind; 0.0.0.0 opens it to the network."
)
@click.option("--port", type=click.IntRange(1, 65535), default=7860)
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Images per G call.")
def serve_command(snapshot: str, host: str, port: int, device: str, batch_size: int) -> None:
    """Serve a sampler page for SNAPSHOT (a snapshot file, a folder from `export --format
    hub`, or a Hub id owner/name[@revision]): grids and single images by seed, a walk between
    two seeds with a slider and its GIF, the class picker of conditional models, noise
    injection on/off for v2 models, a download button on every image.

    \b
    Examples:
      transgan serve runs/demo/network-snapshot-000100.safetensors
      transgan serve hub-folder/ --port 8000
    Needs the serve extra: pip install 'transgan[serve]'.
    """
    from transgan.runtime import resolve_device
    from transgan.sharing.page import ServeError, check_port, import_gradio, serve
    from transgan.sharing.sampler import Sampler
    from transgan.snapshot import SnapshotError

    try:
        import_gradio()  # before loading anything: a missing extra is the first thing to say
        sampler = Sampler.from_snapshot(snapshot, resolve_device(device), batch_size)
        check_port(host, port)
    except (ServeError, SnapshotError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"serving {snapshot} on http://{host}:{port} (seeds 0–{MAX_SEED}); Ctrl+C stops")
    try:
        serve(sampler, host, port, block=True)
    except ServeError as err:
        raise click.ClickException(str(err)) from err
