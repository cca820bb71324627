"""Static files named by their content once collected, so browsers keep them for good."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, hashed storage. `collectstatic` (the Docker image runs
    it) writes each file under a name holding its content's hash beside the plain one,
    with its gzip and Brotli copies and a manifest; pages then name the hashed file,
    which WhiteNoise serves as immutable for ten years, so a new release's file has a
    new name and no browser keeps a stale one. Not collected (`make run`, the tests),
    there is no manifest: files keep their plain names and are served from the apps
    (WHITENOISE_USE_FINDERS), as before, where a manifest storage would refuse every page."""

    manifest_strict = False

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:  # no manifest: nothing was collected
            return name
        return super().stored_name(name)
