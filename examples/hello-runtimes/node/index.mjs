export const handler = async (event, context) => {
  console.log('hello from Node.js', process.version);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'hello from Node.js', requestId: context.awsRequestId, path: event.rawPath }),
  };
};
