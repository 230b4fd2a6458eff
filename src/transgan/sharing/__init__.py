"""Showing and sharing a trained generator: the sampler page of `transgan serve`
(``sampler``: what it draws; ``page``: the Gradio app) and Hub-ready model folders
(``hub_folder``: `transgan export --format hub`)."""
