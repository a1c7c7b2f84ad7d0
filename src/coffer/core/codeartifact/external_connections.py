"""CodeArtifact's external connections: the public registries a repository can be connected to (one at most),
the package format of each, and where each points unless the server is told otherwise."""

from __future__ import annotations

from collections.abc import Mapping

#: CodeArtifact's public external connections and the package format of each (AWS's list).
EXTERNAL_CONNECTIONS: Mapping[str, str] = {
    "public:npmjs": "npm",
    "public:pypi": "pypi",
    "public:nuget-org": "nuget",
    "public:maven-central": "maven",
    "public:maven-googleandroid": "maven",
    "public:maven-gradleplugins": "maven",
    "public:maven-commonsware": "maven",
    "public:maven-clojars": "maven",
    "public:ruby-gems-org": "ruby",
    "public:crates-io": "cargo",
}

#: Where each connection points unless configured (``coffer serve --external-connection-url NAME=URL``).
DEFAULT_CONNECTION_URLS: Mapping[str, str] = {
    "public:npmjs": "https://registry.npmjs.org/",
    "public:pypi": "https://pypi.org/simple/",
    "public:nuget-org": "https://api.nuget.org/v3/index.json",
    "public:maven-central": "https://repo1.maven.org/maven2/",
    "public:maven-googleandroid": "https://maven.google.com/",
    "public:maven-gradleplugins": "https://plugins.gradle.org/m2/",
    "public:maven-commonsware": "https://repo.commonsware.com/",
    "public:maven-clojars": "https://repo.clojars.org/",
    "public:ruby-gems-org": "https://rubygems.org/",
    "public:crates-io": "https://index.crates.io/",
}
