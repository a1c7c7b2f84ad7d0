"""``coffer login``: configure pip, twine, uv, poetry, npm, pnpm or yarn for a repository (a client of the CodeArtifact
API)."""

from __future__ import annotations

import click

from coffer.cli.context import CofferCliError
from coffer.login import get_authorization_token, get_repository_endpoint, make_client
from coffer.login.npmrc import NpmrcError, scope_of
from coffer.login.tools import (
    LoginError,
    ToolPlan,
    apply,
    dry_run_lines,
    expiration_line,
    plan_npm,
    plan_pip,
    plan_pnpm,
    plan_poetry,
    plan_twine,
    plan_uv,
    plan_yarn,
)

TOOLS = ("pip", "twine", "uv", "poetry", "npm", "pnpm", "yarn")
NPM_TOOLS = frozenset({"npm", "pnpm", "yarn"})  # npm repositories; the others are pypi's


@click.command()
@click.option("--tool", type=click.Choice(TOOLS, case_sensitive=False), required=True, help="The tool to configure.")
@click.option("--domain", required=True, help="Your domain name.")
@click.option("--repository", required=True, help="Your repository name.")
@click.option("--domain-owner", default=None, help="12-digit account id that owns the domain (default: yours).")
@click.option(
    "--duration-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Token lifetime: 900 to 43200 seconds; 0 or absent sends none (the server's default, 12 hours).",
)
@click.option(
    "--namespace",
    default=None,
    help="npm, pnpm and yarn: the scope (with or without @) that the repository serves; other packages keep theirs.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be run and written, change nothing (shows the token).")
@click.option(
    "--endpoint-url",
    default=None,
    help="CodeArtifact API endpoint (default: AWS_ENDPOINT_URL_CODEARTIFACT, AWS_ENDPOINT_URL, else AWS's).",
)
@click.option("--profile", default=None, help="AWS profile for credentials and region.")
@click.option("--region", default=None, help="AWS region (default: the profile's/environment's, else us-east-1).")
def login(
    tool: str,
    domain: str,
    repository: str,
    domain_owner: str | None,
    duration_seconds: int | None,
    namespace: str | None,
    dry_run: bool,
    endpoint_url: str | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Fetch a token and configure TOOL to use the repository, like `aws codeartifact login` (plus uv, poetry, pnpm
    and yarn).

    pip: `pip config set global.index-url https://aws:TOKEN@.../simple/`; twine: ~/.pypirc section [codeartifact];
    uv: an [[index]] named codeartifact in uv.toml; poetry: repositories.codeartifact and http-basic.codeartifact;
    npm and pnpm: registry and //host/path/:_authToken in ~/.npmrc; yarn: ~/.yarnrc.yml (yarn 2+) and ~/.npmrc
    (yarn 1).
    """
    tool = tool.lower()
    if namespace is not None:
        if tool not in NPM_TOOLS:
            raise click.UsageError(f"Argument --namespace is not supported for {tool}")
        try:
            scope_of(namespace)  # before any call: a bad scope costs no token
        except NpmrcError as exc:
            raise CofferCliError(str(exc)) from exc
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = make_client(endpoint_url, region, profile)
        issued = get_authorization_token(client, domain, domain_owner, duration_seconds)
        package_format = "npm" if tool in NPM_TOOLS else "pypi"
        endpoint = get_repository_endpoint(client, domain, repository, domain_owner, package_format)
    except (ClientError, BotoCoreError) as exc:  # ClientError: "An error occurred (Code) when calling ...: ..."
        raise CofferCliError(str(exc)) from exc
    try:
        plan = _plan(tool, endpoint, issued.token, namespace)
        if dry_run:
            for line in [*dry_run_lines(plan), *plan.notes]:
                click.echo(line)
            click.echo(expiration_line(issued.expiration).replace("Login expires", "The token would expire", 1))
            return
        done = apply(plan, issued.token)
    except (LoginError, OSError) as exc:
        raise CofferCliError(str(exc).replace(issued.token, "******")) from exc
    for line in done:
        click.echo(line)
    for note in plan.notes:
        click.echo(note.replace(issued.token, "******"))
    click.echo(f"Successfully configured {tool} to use repository {endpoint}")
    click.echo(expiration_line(issued.expiration))


def _plan(tool: str, endpoint: str, token: str, namespace: str | None) -> ToolPlan:
    if tool == "npm":
        return plan_npm(endpoint, token, namespace)
    if tool == "pnpm":
        return plan_pnpm(endpoint, token, namespace)
    if tool == "yarn":
        return plan_yarn(endpoint, token, namespace)
    if tool == "pip":
        return plan_pip(endpoint, token)
    if tool == "twine":
        return plan_twine(endpoint, token)
    if tool == "uv":
        return plan_uv(endpoint, token)
    return plan_poetry(endpoint, token)
