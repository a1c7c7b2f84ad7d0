// Drives Coffer with the unmodified AWS SDK for JavaScript v3: only the endpoint differs from AWS.
// Usage: node codeartifact_flow.mjs ENDPOINT ACCESS_KEY SECRET DOMAIN
import {
  CodeartifactClient,
  CreateDomainCommand,
  CreateRepositoryCommand,
  GetAuthorizationTokenCommand,
  GetRepositoryEndpointCommand,
  DescribeDomainCommand,
} from "@aws-sdk/client-codeartifact";

const [endpoint, accessKeyId, secretAccessKey, domain] = process.argv.slice(2);
const client = new CodeartifactClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId, secretAccessKey },
});

const out = {};
out.domain = (await client.send(new CreateDomainCommand({ domain }))).domain.name;
await client.send(new CreateRepositoryCommand({ domain, repository: "internal" }));
const token = await client.send(new GetAuthorizationTokenCommand({ domain, durationSeconds: 900 }));
out.tokenLength = token.authorizationToken.length;
out.expiration = token.expiration.toISOString();
out.endpoint = (
  await client.send(new GetRepositoryEndpointCommand({ domain, repository: "internal", format: "pypi" }))
).repositoryEndpoint;
out.npmEndpoint = (
  await client.send(new GetRepositoryEndpointCommand({ domain, repository: "internal", format: "npm" }))
).repositoryEndpoint;
try {
  await client.send(new GetRepositoryEndpointCommand({ domain, repository: "internal", format: "maven" }));
} catch (err) {
  out.mavenEndpointError = `${err.name}: ${err.message}`;
}
try {
  await client.send(new DescribeDomainCommand({ domain: "Not-Valid" }));
} catch (err) {
  out.errorName = err.name;
  out.errorStatus = err.$metadata.httpStatusCode;
}
try {
  await client.send(new GetAuthorizationTokenCommand({ domain, durationSeconds: 86400 }));
} catch (err) {
  out.durationError = err.message;
}
console.log(JSON.stringify(out));
