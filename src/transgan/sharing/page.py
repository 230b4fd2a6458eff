"""The sampler web page of `transgan serve`: a Gradio app around one ``Sampler``.

Gradio is an optional extra (``pip install 'transgan[serve]'``); ``build_page`` names it when
it is missing. A value the sampler refuses (a bad seed or class) becomes a message on the
page (``gradio.Error``), not a traceback. The page loads nothing from the internet: system
fonts, Gradio's bundled front end.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from transgan.sharing.sampler import MAX_GRID, MAX_WALK_STEPS, Sampler, SamplerInputError

SERVE_EXTRA = "pip install 'transgan[serve]'"
# small generated images are shown enlarged to their box, with sharp pixels (the download
# is the image at its own size)
PIXEL_CSS = (
    "#grid-image img, #one-image img, #walk-image img "
    "{ width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"
)


class ServeError(RuntimeError):
    """The page cannot be built or served (the message says what to do)."""


def import_gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    try:
        import gradio
    except ImportError as err:
        raise ServeError(
            f"`transgan serve` needs Gradio, an optional extra: {SERVE_EXTRA}"
        ) from err
    return gradio


def describe(sampler: Sampler) -> str:
    """The page's heading: what model this is."""
    c = sampler.config
    params = sum(p.numel() for p in sampler.generator.parameters())
    lines = [
        f"### TransGAN sampler — `{c.name}`, {c.img_size}×{c.img_size} px",
        f"{params:,} generator parameters · trained on `{c.dataset}` · from `{sampler.source}`",
    ]
    if sampler.num_classes:
        lines.append(f"class-conditional: {', '.join(sampler.class_choices())}")
    return "\n\n".join(lines)


def on_page(fn: Callable[..., Any], gradio: Any) -> Callable[..., Any]:
    """``fn`` with the sampler's refusals shown as a message on the page."""

    def handler(*args: Any) -> Any:
        try:
            return fn(*args)
        except SamplerInputError as err:
            raise gradio.Error(str(err)) from err

    handler.__name__ = getattr(fn, "__name__", "handler")
    return handler


def image_box(gradio: Any, label: str, elem_id: str, height: int) -> Any:
    """An output image: PNG, a download button, shown ``height`` px high (PIXEL_CSS)."""
    return gradio.Image(
        type="pil",
        format="png",
        label=label,
        buttons=["download"],
        elem_id=elem_id,
        height=height,
    )


def build_page(sampler: Sampler) -> Any:
    """The Gradio Blocks app for ``sampler`` (not yet launched)."""
    gr = import_gradio()
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    cond, noisy = sampler.num_classes > 0, sampler.has_noise
    choices = sampler.class_choices()
    gif_dir = tempfile.mkdtemp(prefix="transgan-serve-")

    with gr.Blocks(title="TransGAN sampler", analytics_enabled=False) as page:
        gr.Markdown(describe(sampler))
        with gr.Row():
            label = gr.Dropdown(
                choices,
                value=choices[0] if cond else None,
                label="class",
                visible=cond,
                elem_id="class",
            )
            noise = gr.Checkbox(
                value=True, label="noise injection (as trained)", visible=noisy, elem_id="noise"
            )
        with gr.Tab("Grid"):
            with gr.Row():
                grid_seed = gr.Number(0, precision=0, label="seed", elem_id="grid-seed")
                grid_n = gr.Slider(1, MAX_GRID, value=16, step=1, label="images")
                grid_button = gr.Button("Draw grid", variant="primary", elem_id="grid-draw")
            grid_out = image_box(gr, "grid", "grid-image", 480)
        with gr.Tab("One image"):
            with gr.Row():
                one_seed = gr.Number(0, precision=0, label="seed", elem_id="one-seed")
                one_button = gr.Button("Draw", variant="primary", elem_id="one-draw")
            one_out = image_box(gr, "image", "one-image", 320)
        with gr.Tab("Interpolation"):
            with gr.Row():
                seed_a = gr.Number(0, precision=0, label="seed A", elem_id="walk-a")
                seed_b = gr.Number(1, precision=0, label="seed B", elem_id="walk-b")
            t = gr.Slider(0, 1, value=0, step=0.01, label="from A to B", elem_id="walk-t")
            frame = image_box(gr, "walk", "walk-image", 320)
            with gr.Row():
                steps = gr.Slider(2, MAX_WALK_STEPS, value=24, step=1, label="GIF frames")
                gif_button = gr.Button("Export the walk as a GIF", elem_id="walk-gif")
            gif_file = gr.File(label="GIF", elem_id="walk-file")

        def draw_grid(seed: float, n: float, choice: str | None, use_noise: bool) -> Any:
            return sampler.grid(seed, n, choice if cond else None, use_noise)

        def draw_one(seed: float, choice: str | None, use_noise: bool) -> Any:
            return sampler.image(seed, choice if cond else None, use_noise)

        def draw_frame(a: float, b: float, at: float, choice: str | None, use_noise: bool) -> Any:
            return sampler.walk_frame(a, b, at, choice if cond else None, use_noise)

        def export_gif(a: float, b: float, n: float, choice: str | None, use_noise: bool) -> str:
            name = f"walk-{int(a)}-{int(b)}.gif"
            path = os.path.join(gif_dir, name)
            return str(sampler.walk_gif(a, b, path, n, choice if cond else None, use_noise))

        grid_button.click(on_page(draw_grid, gr), [grid_seed, grid_n, label, noise], grid_out)
        one_button.click(on_page(draw_one, gr), [one_seed, label, noise], one_out)
        walk_inputs = [seed_a, seed_b, t, label, noise]
        # the frame follows the slider while it moves (only the newest position is drawn)
        t.change(on_page(draw_frame, gr), walk_inputs, frame, trigger_mode="always_last")
        for trigger in (seed_a.submit, seed_b.submit):
            trigger(on_page(draw_frame, gr), walk_inputs, frame)
        gif_button.click(on_page(export_gif, gr), [seed_a, seed_b, steps, label, noise], gif_file)
        page.load(on_page(draw_frame, gr), walk_inputs, frame)
    page.transgan_gif_dir = gif_dir  # where the GIFs go (served to the page)
    page.transgan_theme = theme
    return page


def check_port(host: str, port: int) -> None:
    """Refuse a host and port that cannot be served on (in use, not an address here)
    before anything says the page is up."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    except OSError as err:
        raise ServeError(
            f"cannot serve on {host}:{port} ({err.strerror or err}); choose another --port "
            "or --host"
        ) from err


def serve(sampler: Sampler, host: str, port: int, block: bool = True) -> Any:
    """Build the page and serve it on ``host``:``port``; returns the app (running in a
    thread when ``block`` is False)."""
    page = build_page(sampler)
    try:
        page.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=not block,
            quiet=True,
            share=False,
            show_error=True,
            allowed_paths=[page.transgan_gif_dir],
            theme=page.transgan_theme,
            css=PIXEL_CSS,
        )
    except OSError as err:
        raise ServeError(
            f"cannot serve on {host}:{port} ({err}); choose another --port or --host"
        ) from err
    return page
