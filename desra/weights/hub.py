"""Weights named by a Hugging Face hub id, resolved to a file of the local Hugging Face cache.

Wherever an option gives a weights file (``path: pretrain_network_*``, ``segmenter: model_path``), it may instead
name a file or a whole repository on the hub, with the ``hf://`` scheme of ``huggingface_hub``'s file system::

    hf://<owner>/<repo>/<path/in/repo>            a file, e.g. hf://ai-forever/Real-ESRGAN/RealESRGAN_x4.pth
    hf://<owner>/<repo>@<revision>/<path/in/repo>   the file at a branch, tag or commit
    hf://<owner>/<repo>                           the whole repository (a transformers model folder, e.g. SegFormer)

``huggingface_hub`` fetches it into its cache (``HF_HOME``, default ``~/.cache/huggingface``) when the network is
allowed, and reuses the cached copy afterwards. With ``HF_HUB_OFFLINE=1`` only the cache is read; a file that is not
there is an error that gives the command to fetch it (``hf download <repo> <file>``). Any other path is returned
unchanged.
"""
import os
import socket
from urllib.parse import urlparse

#: The scheme of a hub id.
HUB_PREFIX = 'hf://'


def is_hub_id(path):
    """Whether ``path`` is an ``hf://`` hub id."""
    return isinstance(path, str) and path.startswith(HUB_PREFIX)


def parse_hub_id(hub_id):
    """Split ``hf://owner/repo[@revision][/file]`` into its parts.

    Returns:
        tuple[str, str | None, str | None]: ``(repo_id, filename, revision)``; ``filename`` is None for a whole
        repository, ``revision`` None for the default branch.

    Raises:
        ValueError: The id has no ``owner/repo`` (the message shows the expected form).
    """
    parts = hub_id[len(HUB_PREFIX):].split('/', 2)
    if len(parts) < 2 or not all(parts[:2]):
        raise ValueError(f'{hub_id}: a hub id looks like hf://<owner>/<repo>/<file> or hf://<owner>/<repo>')
    repo, revision = parts[1].split('@', 1) if '@' in parts[1] else (parts[1], None)
    filename = parts[2] if len(parts) == 3 and parts[2] else None
    return f'{parts[0]}/{repo}', filename, revision


def download_command(repo_id, filename=None, revision=None):
    """The ``hf`` command line (huggingface_hub's CLI) that puts the file or repository into the local cache."""
    words = ['hf', 'download', repo_id] + ([filename] if filename else [])
    return ' '.join(words + (['--revision', revision] if revision else []))


def endpoint_resolves(endpoint):
    """Whether the host of the hub's URL ``endpoint`` has an address (a name lookup: no request is sent)."""
    host = urlparse(endpoint).hostname
    try:
        return bool(host) and bool(socket.getaddrinfo(host, 443))
    except (OSError, UnicodeError):
        return False


def resolve_weights(path):
    """A local path for ``path``: a hub id is fetched into (or found in) the Hugging Face cache; anything else is
    returned as it is (``os.fspath``).

    Returns:
        str: A file (hub id with a file) or the snapshot folder (whole repository) in the cache.

    Raises:
        FileNotFoundError: The hub id cannot be had: not cached with ``HF_HUB_OFFLINE=1``, no network, or no such
            repository or file; the message names it and gives the ``hf download`` command.
        ValueError: A malformed hub id.
    """
    if not is_hub_id(path):
        return os.fspath(path)
    from huggingface_hub import constants, hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    repo_id, filename, revision = parse_hub_id(path)
    fetch = f'`{download_command(repo_id, filename, revision)}`'
    # without a network huggingface_hub retries for about 25 s before it looks in the cache: look there at once
    no_network = not constants.HF_HUB_OFFLINE and not endpoint_resolves(constants.ENDPOINT)
    try:
        if filename is None:
            return snapshot_download(repo_id, revision=revision, local_files_only=no_network)
        return hf_hub_download(repo_id, filename, revision=revision, local_files_only=no_network)
    except LocalEntryNotFoundError as error:
        if constants.HF_HUB_OFFLINE:
            raise FileNotFoundError(f'{path}: not in the local Hugging Face cache ({constants.HF_HUB_CACHE}) and '
                                    f'HF_HUB_OFFLINE=1 forbids downloads; fetch it with {fetch} where the network '
                                    'is allowed, or give a local path') from error
        if no_network:
            raise FileNotFoundError(f'{path}: not in the local Hugging Face cache ({constants.HF_HUB_CACHE}) and '
                                    f'no network ({urlparse(constants.ENDPOINT).hostname} cannot be resolved); '
                                    f'fetch it with {fetch} where the network is allowed, or give a local '
                                    'path') from error
        raise FileNotFoundError(f'{path}: could not be downloaded nor found in the local Hugging Face cache '
                                f'({constants.HF_HUB_CACHE}); fetch it with {fetch}, or give a local path') from error
    except (EntryNotFoundError, HfHubHTTPError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise FileNotFoundError(f'{path}: {first_line} (fetch with {fetch})') from error
